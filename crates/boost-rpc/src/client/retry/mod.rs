//! Retries with gRFC A6 semantics, capped by a retry budget.
//!
//! A call is attempted again only when **all** of these hold:
//! - the attempt failed with a code in `retry.codes` (default `UNAVAILABLE`),
//!   or with `RESOURCE_EXHAUSTED` and a server pushback (`retry.on_pushback`,
//!   on by default: the server refused before running the call and said when
//!   to come back), learned *before* any response data: a trailers-only
//!   response (the status is in the headers) or a failure to send. Once response headers without a
//!   status arrive the call is committed and never retried;
//! - the method is idempotent (`retry.idempotent_methods`, or
//!   [`CallOptions::idempotent`](super::CallOptions)) — or the attempt never
//!   reached a server (connection refused, no endpoint) or the server shows
//!   it never processed it (HTTP/2 `GOAWAY` above its stream,
//!   `REFUSED_STREAM`), which is always safe;
//! - the request body was buffered: complete at once and ≤ 64 KiB (a unary
//!   call); streaming or larger requests are sent once;
//! - fewer than `max_attempts` (≤ 5) attempts were made, the retry budget has
//!   credit, the server did not forbid it (`grpc-retry-pushback-ms` negative
//!   or malformed), and the backoff ends before the call's deadline.
//!
//! Each retry carries `grpc-previous-rpc-attempts` and a fresh `grpc-timeout`
//! with the time remaining (see [`super::deadline`]).
//!
//! ```
//! # async fn demo() -> Result<(), boost_rpc::RpcError> {
//! use boost_rpc::client::retry::RetryLayer;
//! use boost_rpc::client::RetrySettings;
//! use tower::Layer;
//!
//! let mut settings = RetrySettings::default();
//! settings.idempotent_methods = vec!["hello.v1.Profiles/GetProfile".into()];
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50052").connect_lazy();
//! let retrying = RetryLayer::new("profiles", &settings)?.layer(channel);
//! # let _ = retrying;
//! # Ok(()) }
//! ```

mod backoff;
mod budget;
pub mod future;
mod ledger;
mod policy;
mod replay;

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use boost_config::Problems;
use http::{HeaderValue, Request, Response};
use tonic::body::Body;
use tonic::codegen::Bytes;
use tower::{Layer, Service, ServiceExt};

pub(crate) use self::backoff::GRPC_RETRY_PUSHBACK_MS;
use self::backoff::{Pushback, RetryBackoff};
pub use self::budget::RetryBudget;
use self::future::ResponseFuture;
pub use self::ledger::BudgetBalance;
use self::policy::RetryPolicy;
use self::replay::{Buffered, MAX_REPLAY_BYTES, buffer, replay_body};

use super::deadline::CallDeadline;
use super::metrics::ClientMetrics;
use super::{CallOptions, method_of};
use crate::RpcError;
use crate::client::settings::RetrySettings;
use crate::grpc_timeout;
use crate::status_code::{code_name, grpc_status};

/// The longest server pushback a retry waits; a longer one ends the call with
/// the answer it has (within a deadline, the deadline decides first).
const MAX_PUSHBACK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The request header telling the server how many attempts came before.
const GRPC_PREVIOUS_RPC_ATTEMPTS: &str = "grpc-previous-rpc-attempts";

/// Everything a [`Retry`] needs, shared by its clones.
#[derive(Debug)]
struct Shared {
    policy: RetryPolicy,
    budget: RetryBudget,
    backoff: RetryBackoff,
    metrics: Arc<ClientMetrics>,
}

/// Adds retries. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct RetryLayer {
    shared: Arc<Shared>,
}

impl RetryLayer {
    /// Retries as `settings` say, counting retries and refusals into the
    /// metrics of the client named `client` (`rpc_client_retries_total`,
    /// `rpc_client_retry_budget_exhausted_total`). The budget is shared by
    /// every service this layer builds.
    ///
    /// # Errors
    /// [`RpcError::Config`] naming every `retry.*` setting that cannot work
    /// (an unknown code name, `max_attempts = 0`, …).
    pub fn new(client: &str, settings: &RetrySettings) -> Result<Self, RpcError> {
        Problems::of("retry", settings)
            .into_result(format!("the retry layer of client `{client}`"))
            .map_err(|e| RpcError::Config(Box::new(e)))?;
        Ok(Self::with_metrics(settings, ClientMetrics::new(client)))
    }

    /// A layer from parts.
    fn from_parts(
        policy: RetryPolicy,
        budget: RetryBudget,
        backoff: RetryBackoff,
        metrics: Arc<ClientMetrics>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                policy,
                budget,
                backoff,
                metrics,
            }),
        }
    }

    /// A layer from settings already validated, recording into a client's
    /// metric handles.
    pub(crate) fn with_metrics(settings: &RetrySettings, metrics: Arc<ClientMetrics>) -> Self {
        Self::from_parts(
            RetryPolicy::from_settings(settings),
            RetryBudget::from_settings(settings),
            RetryBackoff::from_settings(settings),
            metrics,
        )
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;
    fn layer(&self, inner: S) -> Retry<S> {
        Retry {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`RetryLayer`] builds.
#[derive(Debug, Clone)]
pub struct Retry<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Retry<S> {
    /// The retry budget (shared by every service of the same layer).
    pub fn budget(&self) -> &RetryBudget {
        &self.shared.budget
    }
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Request<Body>> for Retry<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = RpcError;
    type Future = ResponseFuture<S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| RpcError::from_boxed(e.into()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The polled-ready service makes the first attempt; clones the rest.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        self.shared.budget.deposit();
        let (parts, body) = request.into_parts();
        let bytes = match buffer(body, MAX_REPLAY_BYTES) {
            Ok(Buffered::Replayable(bytes)) => bytes,
            Ok(Buffered::Once(body)) => {
                // Not replayable: exactly one attempt.
                let first = ready.call(Request::from_parts(parts, body));
                return ResponseFuture::first(first, None);
            }
            Err(status) => return ResponseFuture::failed(RpcError::from(status)),
        };
        let method = method_of(&parts.uri);
        let idempotent = parts
            .extensions
            .get::<CallOptions>()
            .and_then(|o| o.idempotent)
            .unwrap_or_else(|| self.shared.policy.is_idempotent(method));
        let deadline = parts.extensions.get::<CallDeadline>().copied();
        // What a retry needs to rebuild the request. The first attempt sends
        // the original parts, its body a cheap handle on the same bytes.
        let method = parts.method.clone();
        let uri = parts.uri.clone();
        let version = parts.version;
        // A flat list (one allocation; a map copy makes two). `grpc-timeout`
        // is left out when the call has a deadline: every retry stamps its own.
        let headers = parts
            .headers
            .iter()
            .filter(|(name, _)| deadline.is_none() || *name != grpc_timeout::HEADER)
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let extensions = SavedExtensions::of(&parts.extensions);
        let first = ready.call(Request::from_parts(parts, replay_body(bytes.clone())));
        ResponseFuture::first(
            first,
            Some(Again {
                service: ready,
                method,
                uri,
                version,
                headers,
                extensions,
                bytes,
                shared: self.shared.clone(),
                idempotent,
                deadline,
            }),
        )
    }
}

/// What a retry needs: the service, the request without its body, the
/// body's bytes, and the call's policy facts.
struct Again<S> {
    service: S,
    method: http::Method,
    uri: http::Uri,
    version: http::Version,
    headers: Vec<(http::HeaderName, HeaderValue)>,
    extensions: SavedExtensions,
    bytes: Bytes,
    shared: Arc<Shared>,
    idempotent: bool,
    deadline: Option<CallDeadline>,
}

impl<S> Again<S> {
    /// A fresh copy of the request.
    fn request(&self) -> Request<Body> {
        let mut request = Request::new(replay_body(self.bytes.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.version_mut() = self.version;
        let headers = request.headers_mut();
        headers.reserve(self.headers.len() + 2);
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        *request.extensions_mut() = self.extensions.restore();
        request
    }
}

/// The request extensions a retry must carry again.
///
/// Usually they are only the call's own (tonic's `GrpcMethod`, our
/// [`CallDeadline`] and [`CallOptions`]): then their values are kept and the
/// map is rebuilt only if a retry happens — cloning a map costs an allocation
/// per entry on every call. Any other extension makes it keep a full clone.
enum SavedExtensions {
    Known {
        method: Option<tonic::GrpcMethod<'static>>,
        deadline: Option<CallDeadline>,
        options: Option<CallOptions>,
    },
    Cloned(http::Extensions),
}

impl SavedExtensions {
    fn of(extensions: &http::Extensions) -> Self {
        let method = extensions.get::<tonic::GrpcMethod<'static>>().cloned();
        let deadline = extensions.get::<CallDeadline>().copied();
        let options = extensions.get::<CallOptions>().copied();
        let known = usize::from(method.is_some())
            + usize::from(deadline.is_some())
            + usize::from(options.is_some());
        if extensions.len() == known {
            Self::Known {
                method,
                deadline,
                options,
            }
        } else {
            Self::Cloned(extensions.clone())
        }
    }

    fn restore(&self) -> http::Extensions {
        match self {
            Self::Known {
                method,
                deadline,
                options,
            } => {
                let mut extensions = http::Extensions::new();
                if let Some(m) = method {
                    extensions.insert(m.clone());
                }
                if let Some(d) = deadline {
                    extensions.insert(*d);
                }
                if let Some(o) = options {
                    extensions.insert(*o);
                }
                extensions
            }
            Self::Cloned(extensions) => extensions.clone(),
        }
    }
}

/// Why the loop stopped retrying (for the span event).
fn stop(reason: &'static str, attempt: u32, code: tonic::Code) {
    if attempt > 1 || code != tonic::Code::Ok {
        tracing::debug!(attempt, code = code_name(code), reason, "not retrying");
    }
}

/// Decides on the first attempt's `result` and makes further attempts while
/// the rules in the [module docs](self) allow.
async fn retry_after<S>(
    again: Again<S>,
    mut result: Result<Response<Body>, RpcError>,
) -> Result<Response<Body>, RpcError>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send + 'static,
{
    let shared = &again.shared;
    let method = method_of(&again.uri);
    let mut attempt: u32 = 1;
    loop {
        // Decide whether this outcome may be retried at all.
        let (code, unsent, pushback) = match &result {
            Ok(response) => match grpc_status(response.headers()) {
                // Headers without a status: the call is committed.
                None | Some(tonic::Code::Ok) => return result,
                Some(code) => (code, false, Pushback::from_headers(response.headers())),
            },
            Err(e) => (e.code(), e.is_unsent(), Pushback::None),
        };
        // An attempt that never reached a server is always safe to repeat.
        let retryable = match pushback {
            Pushback::After(_) => shared.policy.is_retryable_with_pushback(code),
            Pushback::None | Pushback::Stop => shared.policy.is_retryable(code),
        } || (unsent && code == tonic::Code::Unavailable);
        if !retryable {
            stop("code not retryable", attempt, code);
            return result;
        }
        if !(again.idempotent || unsent) {
            stop("method not idempotent", attempt, code);
            return result;
        }
        if attempt >= shared.policy.max_attempts() {
            stop("max attempts reached", attempt, code);
            return result;
        }
        let delay = match pushback {
            Pushback::Stop => {
                stop("server pushback forbids retry", attempt, code);
                return result;
            }
            // A call without a deadline (the layer used alone) would
            // otherwise sleep as long as any upstream says.
            Pushback::After(d) if d > MAX_PUSHBACK_WAIT => {
                stop("server pushback longer than a retry waits", attempt, code);
                return result;
            }
            Pushback::After(d) => d,
            Pushback::None => shared.backoff.delay(attempt),
        };
        if let Some(d) = again.deadline
            && crate::deadline::after(Instant::now(), delay) >= d.0
        {
            stop("deadline would pass during backoff", attempt, code);
            return result;
        }
        if !shared.budget.withdraw() {
            shared.metrics.record_budget_exhausted(method);
            stop("retry budget exhausted", attempt, code);
            return result;
        }
        shared.metrics.record_retry(method);
        tracing::info!(
            attempt,
            code = code_name(code),
            backoff_ms = delay.as_millis() as u64,
            "attempt failed, retrying"
        );
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        attempt += 1;

        let mut request = again.request();
        request
            .headers_mut()
            .insert(GRPC_PREVIOUS_RPC_ATTEMPTS, HeaderValue::from(attempt - 1));
        if let Some(d) = again.deadline
            && !d.stamp(request.headers_mut())
        {
            return Err(RpcError::deadline_exceeded(format!(
                "deadline passed before attempt {attempt}"
            )));
        }
        result = again
            .service
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| RpcError::from_boxed(e.into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Custom(u32);

    #[test]
    fn saved_extensions_come_back_on_a_retry() {
        let mut ext = http::Extensions::new();
        ext.insert(tonic::GrpcMethod::new("a.B", "C"));
        ext.insert(CallDeadline(Instant::now()));
        let saved = SavedExtensions::of(&ext);
        assert!(matches!(saved, SavedExtensions::Known { .. }));
        let back = saved.restore();
        assert_eq!(back.len(), 2);
        assert_eq!(
            back.get::<tonic::GrpcMethod<'static>>().unwrap().method(),
            "C"
        );
        assert_eq!(back.get::<CallDeadline>(), ext.get::<CallDeadline>());

        // Anything else: a full copy, so nothing is lost.
        ext.insert(Custom(7));
        let back = SavedExtensions::of(&ext).restore();
        assert_eq!(back.len(), 3);
        assert_eq!(back.get::<Custom>(), Some(&Custom(7)));
    }
}
