//! A resilient gRPC client: the stack Finagle and Linkerd users take for
//! granted, as tower layers under a tonic-generated client.
//!
//! ```no_run
//! use boost_rpc::client::ClientSettings;
//! use boost_test_proto::{GetProfileRequest, profiles_client::ProfilesClient};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Normally loaded from config (`[profiles]`); every knob has a default.
//! let settings = ClientSettings::with_endpoints(["http://127.0.0.1:50052"]);
//! let mut profiles = ProfilesClient::new(boost_rpc::client("profiles", &settings)?);
//! let reply = profiles
//!     .get_profile(GetProfileRequest { name: "ada".into() })
//!     .await?;
//! # let _ = reply;
//! # Ok(()) }
//! ```
//!
//! What every call gets, outermost first:
//!
//! 1. [`observe`]: a client span with the OTel RPC attributes, the
//!    `rpc_client_call_duration_seconds` histogram, W3C trace context and
//!    `x-request-id` sent upstream.
//! 2. [`deadline`]: one total deadline (`timeout`, default 300 ms, or less if
//!    the call or the inbound request being served has less); every attempt
//!    sends `grpc-timeout` with the time remaining; an expired deadline fails
//!    with DEADLINE_EXCEEDED without sending.
//! 3. [`limit`]: at most `concurrency.limit` calls in flight; wait at most
//!    `concurrency.max_wait`, then RESOURCE_EXHAUSTED.
//! 4. [`throttle`]: while the upstream refuses most calls (over 10 s), a
//!    share of calls is rejected locally with UNAVAILABLE (the SRE book's
//!    adaptive throttling); back to none as soon as it accepts again.
//! 5. [`retry`]: UNAVAILABLE answers are retried (max 3 attempts, full-jitter
//!    backoff, `grpc-retry-pushback-ms` honoured) for idempotent methods,
//!    unary requests ≤ 64 KiB, within a budget of 20% of calls + 10/s.
//! 6. [`balance`]: each attempt goes to the less loaded of two random
//!    endpoints (Peak-EWMA latency × in-flight).
//! 7. [`eject`]: endpoints failing 5 times in a row, or below 80% success,
//!    are ejected for a growing, jittered time and readmitted by one probe;
//!    endpoints whose connect failed wait out a reconnect backoff (Linkerd's:
//!    100 ms doubling to 500 ms), so a returning upstream is used again
//!    within ~0.55 s and a dead one sees ~2 connects a second.
//! 8. [`sanitize`]: what the upstream sends back is checked before tonic
//!    reads it — metadata over `max_response_metadata_size` (64 KiB) fails
//!    that call alone with RESOURCE_EXHAUSTED, malformed status details are
//!    dropped rather than panicking — and each attempt is counted with its
//!    real status.
//!
//! Endpoints come from `endpoints`, a fixed list, or from `dns.name`, re-resolved
//! every `dns.refresh` (through a [`Resolver`]: the system's, or one given to
//! [`ClientBuilder::resolver`]). [`Client::endpoints`] shows each endpoint's
//! [`EndpointState`]; every client is listed in [`Upstreams`]
//! (the admin server's `/upstreams`) with its endpoints' ejection state,
//! its throttle and its retry budget's balance.
//!
//! # Settings
//!
//! [`ClientSettings`] and its sections ([`RetrySettings`], [`EjectionSettings`],
//! [`BalanceSettings`], [`ConcurrencySettings`], [`ReconnectSettings`],
//! [`DnsSettings`]) are normally a section of the service's config. They
//! implement [`boost_config::Validate`], so values that cannot work are refused
//! when the config loads, under the section's keys (`profiles.retry.max_attempts`);
//! [`client()`] runs the same checks for settings made in code
//! ([`RpcError::Config`]).
//!
//! # Per-call knobs
//!
//! Insert [`CallOptions`] into a request's extensions to give one call its own
//! timeout or mark it idempotent; tonic's `Request::set_timeout` also works.
//! The earliest deadline wins.
//!
//! # Errors
//!
//! Failures made inside the stack are [`RpcError`]s; generated clients turn
//! them into the same `tonic::Status` (code and message kept). Classify any
//! status with `RpcError::from(status)`: [`RpcError::is_retryable`],
//! [`RpcError::is_caller_fault`], [`RpcError::is_server_fault`].
//!
//! # The layers alone
//!
//! Each layer is a module with a tower `Layer` and its service (and the
//! service's response future in its `future` module), usable alone:
//! [`retry::RetryLayer`] and [`observe::ObserveLayer`] over any service of
//! `http::Request<tonic::body::Body>`, [`deadline::DeadlineLayer`],
//! [`limit::ConcurrencyLimitLayer`] and [`eject::EjectLayer`] over any service
//! of `http::Request`s; [`balance::Balance`] is a service over a list of them.
//! The stack inside a [`Client`] is not public: its order is documented above,
//! and may change without breaking anyone.

pub mod balance;
pub mod deadline;
mod discover;
pub mod eject;
pub mod future;
pub mod limit;
mod metrics;
pub mod observe;
mod options;
pub mod retry;
pub mod sanitize;
mod settings;
mod stack;
mod status;
pub mod throttle;
mod tls;
mod validate;

use std::sync::Arc;
use std::task::{Context, Poll};

use boost_config::Problems;
use http::{Request, Response, Uri};
use tonic::body::Body;
use tower::Service;

pub use self::discover::Resolver;
pub(crate) use self::metrics::ClientMetrics;
pub use self::metrics::EndpointState;
pub use self::options::CallOptions;
pub use self::settings::{
    BalanceSettings, ClientSettings, ConcurrencySettings, DnsSettings, EjectionSettings,
    ReconnectSettings, RetrySettings, ThrottleSettings,
};
pub use self::throttle::ThrottleState;

use self::balance::EndpointSet;
use self::discover::{DnsDiscover, StaticEndpoints, SystemResolver};
use self::future::ResponseFuture;
use self::observe::ResponseBody;
#[cfg(feature = "bench")]
pub(crate) use self::stack::tls_channel;
use self::stack::{Stack, stack};
use self::status::ClientStatus;
use self::tls::EndpointTls;
pub(crate) use self::tls::handshake_refusal;
use crate::RpcError;
use crate::upstreams::{UpstreamStatus, Upstreams};
use boost_tls::ClientTls;

/// Builds the client named `name` (the `client` metric label) from `settings`.
///
/// Must be called inside a tokio runtime. Connections are made lazily, on the
/// first call to each endpoint. See the [module docs](self).
///
/// # Errors
/// [`RpcError::Config`] listing every setting that cannot work, named
/// `<name>.<key>` as in the service's config (`profiles.timeout`); the same
/// checks run when the config is loaded, as `ClientSettings` implements
/// [`boost_config::Validate`]. [`RpcError::NoRuntime`] outside a tokio runtime.
pub fn client(name: &str, settings: &ClientSettings) -> Result<Client, RpcError> {
    Client::builder(name, settings).build()
}

/// A resilient gRPC client service: give it to a generated tonic client
/// (`ProfilesClient::new(client)`). Cheap to clone; clones share endpoints,
/// connections, budget and limits.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Stack,
    /// Keeps the TLS files current while any clone lives.
    _tls_watch: Option<Arc<WatchTask>>,
    /// Listed on `/upstreams` (in [`Upstreams::global`]) while any clone lives.
    _status: Arc<ClientStatus>,
}

/// The task re-reading a client's TLS files; stopped with the last clone.
#[derive(Debug)]
struct WatchTask(tokio::task::JoinHandle<()>);

impl Drop for WatchTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Client {
    /// A builder, for a custom [`Resolver`].
    pub fn builder(name: &str, settings: &ClientSettings) -> ClientBuilder {
        ClientBuilder {
            name: name.to_owned(),
            settings: settings.clone(),
            resolver: Arc::new(SystemResolver),
        }
    }

    /// The endpoints and their state (for health pages and tests).
    pub fn endpoints(&self) -> Vec<(String, EndpointState)> {
        self.inner
            .get_ref()
            .get_ref()
            .get_ref()
            .get_ref()
            .get_ref()
            .endpoints()
            .snapshot()
            .iter()
            .map(|e| {
                let state = e.health().map_or(EndpointState::Ready, |h| h.state());
                (e.key().to_owned(), state)
            })
            .collect()
    }
}

impl Client {
    /// What the client-side throttle holds now: answers in its window and
    /// the probability a call is rejected locally (for admin pages and
    /// tests). See [`throttle`].
    pub fn throttle(&self) -> ThrottleState {
        self.inner.get_ref().get_ref().get_ref().state()
    }
}

/// Builds a [`Client`]; see [`Client::builder`].
pub struct ClientBuilder {
    name: String,
    settings: ClientSettings,
    resolver: Arc<dyn Resolver>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("name", &self.name)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Resolves `dns.name` with `resolver` instead of the system resolver.
    pub fn resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.resolver = resolver;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`RpcError::Config`] listing every setting that cannot work, each as
    /// `<name>.<key>` (the same checks as loading the config:
    /// `Problems::of(name, &settings)`); [`RpcError::NoRuntime`] outside a
    /// tokio runtime.
    pub fn build(self) -> Result<Client, RpcError> {
        let Self {
            name,
            settings,
            resolver,
        } = self;
        Problems::of(&name, &settings)
            .into_result(format!("client `{name}`"))
            .map_err(|e| RpcError::Config(Box::new(e)))?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(RpcError::NoRuntime { client: name });
        }
        let metrics = ClientMetrics::new(&name);
        let endpoints = EndpointSet::new(
            &name,
            &settings.balance,
            settings.ejection.max_ejected_percent,
        );
        let (tls, tls_watch) = match uses_tls(&settings) {
            Some(default_name) => {
                let section = format!("{name}.tls");
                let tls = ClientTls::from_settings(&section, &settings.tls).map_err(|e| {
                    RpcError::Tls {
                        client: name.clone(),
                        error: Box::new(e),
                    }
                })?;
                let watch = WatchTask(tokio::spawn(tls.watch()));
                (
                    Some(EndpointTls::new(&tls, default_name)),
                    Some(Arc::new(watch)),
                )
            }
            None => (None, None),
        };
        let inner = stack(&settings, metrics.clone(), endpoints.clone());
        let throttle = inner.get_ref().get_ref().get_ref();
        let status = Arc::new(ClientStatus::new(
            &name,
            &settings,
            endpoints.clone(),
            throttle.throttle().clone(),
            throttle.get_ref().budget().clone(),
        ));
        Upstreams::global().register(&(status.clone() as Arc<dyn UpstreamStatus>));
        if !settings.endpoints.is_empty() {
            for change in StaticEndpoints::parse(&settings.endpoints).into_changes() {
                endpoints.apply(change, |key, uri| {
                    stack::make_endpoint(&settings, &metrics, tls.as_ref(), key, uri)
                });
            }
            endpoints.mark_resolved(None);
        } else if let Some(dns) = &settings.dns {
            // Validated: without endpoints, `dns.name` is set.
            let discover = DnsDiscover::new(&dns.name, dns.port, dns.refresh, resolver);
            stack::spawn_dns(
                discover,
                Arc::downgrade(&endpoints),
                settings.clone(),
                metrics,
                tls,
            );
        }
        Ok(Client {
            inner,
            _tls_watch: tls_watch,
            _status: status,
        })
    }
}

impl Service<Request<Body>> for Client {
    type Response = Response<ResponseBody>;
    type Error = RpcError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        ResponseFuture {
            inner: Box::pin(self.inner.call(request)),
        }
    }
}

/// Whether the client's connections use TLS, and the name to check servers
/// against when neither `tls.server_name` nor the endpoint's host gives it:
/// `Some(None)` for `https://` endpoints, `Some(Some(dns.name))` for a
/// discovered client with `tls` set, `None` for plaintext. The rules have
/// refused mixed schemes and `tls` with `http://`.
fn uses_tls(settings: &ClientSettings) -> Option<Option<&str>> {
    if !settings.endpoints.is_empty() {
        let https = settings
            .endpoints
            .iter()
            .any(|url| url.trim().starts_with("https://"));
        return https.then_some(None);
    }
    match &settings.dns {
        Some(dns) if settings.tls_configured() => Some(Some(dns.name.as_str())),
        _ => None,
    }
}

std::thread_local! {
    /// The start of the call being made on this thread, while the layers'
    /// `call`s run (see [`with_call_start`]).
    static CALL_START: std::cell::Cell<Option<std::time::Instant>> =
        const { std::cell::Cell::new(None) };
}

/// The time for a layer's `call`: the start of the call when an outer layer
/// read it (observe does), else the clock. Layers' `call`s run one inside
/// the other without waiting, so one clock read serves them all — and a
/// clock read is among the larger per-call costs on virtual machines.
pub(crate) fn call_now() -> std::time::Instant {
    CALL_START
        .with(std::cell::Cell::get)
        .unwrap_or_else(std::time::Instant::now)
}

/// Runs `f` (the inner layers' `call`) with [`call_now`] answering `start`.
pub(crate) fn with_call_start<R>(start: std::time::Instant, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<std::time::Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CALL_START.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CALL_START.with(|c| c.replace(Some(start))));
    f()
}

/// `pkg.Service/Method` from a request path `/pkg.Service/Method`.
pub(crate) fn method_of(uri: &Uri) -> &str {
    uri.path().trim_start_matches('/')
}
