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
pub(crate) mod stack;
mod status;
pub mod tape;
pub mod throttle;
mod tls;
mod validate;

use std::sync::Arc;
use std::task::{Context, Poll};

use boost_config::Problems;
use http::{Request, Response, Uri};
use tonic::body::Body;
use tower::{Layer as _, Service};

pub use self::discover::Resolver;
pub(crate) use self::metrics::ClientMetrics;
pub use self::metrics::EndpointState;
pub use self::options::CallOptions;
pub use self::settings::{
    BalanceSettings, ClientSettings, ConcurrencySettings, DnsSettings, EjectionSettings,
    ReconnectSettings, RetrySettings, ThrottleSettings,
};
pub use self::tape::{TapeMode, TapeSettings};
pub use self::throttle::ThrottleState;

use self::balance::EndpointSet;
pub(crate) use self::discover::SystemResolver;
use self::discover::{DnsDiscover, StaticEndpoints};
use self::future::{Pending, ResponseFuture};
use self::observe::{ObserveLayer, ResponseBody};
#[cfg(feature = "tape")]
use self::stack::TapedStack;
#[cfg(feature = "bench")]
pub(crate) use self::stack::tls_channel;
use self::stack::{Stack, Upstream, upstream};
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
    inner: Inner,
    /// Keeps the TLS files current while any clone lives.
    _tls_watch: Option<Arc<WatchTask>>,
    /// Listed on `/upstreams` (in [`Upstreams::global`]) while any clone
    /// lives; `None` in tape `replay` (no upstream).
    _status: Option<Arc<ClientStatus>>,
}

/// The stack of a client: without a tape (the default, with nothing of the
/// tape layer in it), or with one.
#[derive(Debug, Clone)]
enum Inner {
    Live(Stack),
    #[cfg(feature = "tape")]
    Taped(TapedStack),
}

impl Inner {
    /// The stack below observation, when the client has an upstream.
    fn upstream(&self) -> Option<&Upstream> {
        match self {
            Inner::Live(stack) => Some(stack.get_ref()),
            #[cfg(feature = "tape")]
            Inner::Taped(stack) => stack.get_ref().get_ref(),
        }
    }
}

/// The task re-reading a client's TLS files; stopped with the last clone.
#[derive(Debug)]
pub(crate) struct WatchTask(tokio::task::JoinHandle<()>);

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
            descriptors: Vec::new(),
        }
    }

    /// The endpoints and their state (for health pages and tests); none in
    /// tape `replay`.
    pub fn endpoints(&self) -> Vec<(String, EndpointState)> {
        let Some(upstream) = self.inner.upstream() else {
            return Vec::new();
        };
        upstream
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
        self.inner
            .upstream()
            .map_or(ThrottleState::OFF, |u| u.get_ref().get_ref().state())
    }
}

/// Builds a [`Client`]; see [`Client::builder`].
pub struct ClientBuilder {
    name: String,
    settings: ClientSettings,
    resolver: Arc<dyn Resolver>,
    descriptors: Vec<&'static [u8]>,
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

    /// The encoded `FileDescriptorSet` of the protos this client calls
    /// (`FULL_FILE_DESCRIPTOR_SET` from `boost::include_proto!`), which its
    /// tape reads and writes messages with; may be given several times.
    /// Only a client whose `tape.mode` is not `off` uses them, and it needs
    /// them. See [`tape`].
    #[must_use]
    pub fn descriptors(mut self, set: &'static [u8]) -> Self {
        self.descriptors.push(set);
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
            descriptors,
        } = self;
        Problems::of(&name, &settings)
            .into_result(format!("client `{name}`"))
            .map_err(|e| RpcError::Config(Box::new(e)))?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(RpcError::NoRuntime { client: name });
        }
        let metrics = ClientMetrics::new(&name);
        let observe = ObserveLayer::with_metrics(metrics.clone());
        if settings.tape.mode == TapeMode::Off {
            let (upstream, tls_watch, status) = connect(&name, &settings, resolver, metrics)?;
            return Ok(Client {
                inner: Inner::Live(observe.layer(upstream)),
                _tls_watch: tls_watch,
                _status: Some(status),
            });
        }
        taped(&name, &settings, resolver, metrics, observe, &descriptors)
    }
}

/// A client with a tape: in `replay` nothing but the tape (no endpoints,
/// connections or DNS task), else the tape over the upstream.
#[cfg(feature = "tape")]
fn taped(
    name: &str,
    settings: &ClientSettings,
    resolver: Arc<dyn Resolver>,
    metrics: Arc<ClientMetrics>,
    observe: ObserveLayer,
    descriptors: &[&'static [u8]],
) -> Result<Client, RpcError> {
    let cassette =
        tape::cassette::Cassette::open(name, &settings.tape, settings.timeout, descriptors)?;
    let layer = tape::TapeLayer::new(Arc::new(cassette));
    if !settings.tape.mode.uses_network() {
        return Ok(Client {
            inner: Inner::Taped(observe.layer(layer.offline())),
            _tls_watch: None,
            _status: None,
        });
    }
    let (upstream, tls_watch, status) = connect(name, settings, resolver, metrics)?;
    Ok(Client {
        inner: Inner::Taped(observe.layer(layer.layer(upstream))),
        _tls_watch: tls_watch,
        _status: Some(status),
    })
}

/// Without boost-rpc's `tape` feature, a tape mode is refused.
#[cfg(not(feature = "tape"))]
fn taped(
    name: &str,
    settings: &ClientSettings,
    _: Arc<dyn Resolver>,
    _: Arc<ClientMetrics>,
    _: ObserveLayer,
    _: &[&'static [u8]],
) -> Result<Client, RpcError> {
    Err(RpcError::tape(
        name,
        format!(
            "{name}.tape.mode is {:?} but this build has no tapes: enable the `tape` feature \
             of boost (or boost-rpc), e.g. in the service's [dev-dependencies]",
            settings.tape.mode
        ),
    ))
}

/// The stack to the upstream: endpoints (fixed or discovered), TLS, the
/// resilience layers, and the client's entry on `/upstreams`.
#[allow(clippy::type_complexity)]
pub(crate) fn connect(
    name: &str,
    settings: &ClientSettings,
    resolver: Arc<dyn Resolver>,
    metrics: Arc<ClientMetrics>,
) -> Result<(Upstream, Option<Arc<WatchTask>>, Arc<ClientStatus>), RpcError> {
    let endpoints = EndpointSet::new(
        name,
        &settings.balance,
        settings.ejection.max_ejected_percent,
    );
    let (tls, tls_watch) = match uses_tls(settings) {
        Some(default_name) => {
            let section = format!("{name}.tls");
            let tls =
                ClientTls::from_settings(&section, &settings.tls).map_err(|e| RpcError::Tls {
                    client: name.to_owned(),
                    error: Box::new(e),
                })?;
            let watch = WatchTask(tokio::spawn(tls.watch()));
            (
                Some(EndpointTls::new(&tls, default_name)),
                Some(Arc::new(watch)),
            )
        }
        None => (None, None),
    };
    let inner = upstream(settings, metrics.clone(), endpoints.clone());
    let throttle = inner.get_ref().get_ref();
    let status = Arc::new(ClientStatus::new(
        name,
        settings,
        endpoints.clone(),
        throttle.throttle().clone(),
        throttle.get_ref().budget().clone(),
    ));
    Upstreams::global().register(&(status.clone() as Arc<dyn UpstreamStatus>));
    if !settings.endpoints.is_empty() {
        for change in StaticEndpoints::parse(&settings.endpoints).into_changes() {
            endpoints.apply(change, |key, uri| {
                stack::make_endpoint(settings, &metrics, tls.as_ref(), key, uri)
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
    Ok((inner, tls_watch, status))
}

impl Service<Request<Body>> for Client {
    type Response = Response<ResponseBody>;
    type Error = RpcError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        match &mut self.inner {
            Inner::Live(stack) => stack.poll_ready(cx),
            #[cfg(feature = "tape")]
            Inner::Taped(stack) => stack.poll_ready(cx),
        }
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let inner = match &mut self.inner {
            Inner::Live(stack) => Pending::Live(Box::pin(stack.call(request))),
            #[cfg(feature = "tape")]
            Inner::Taped(stack) => Pending::Taped(Box::pin(stack.call(request))),
        };
        ResponseFuture { inner }
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
