//! Retries with gRFC A6 semantics, capped by a [`RetryBudget`].
//!
//! A call is attempted again only when **all** of these hold:
//! - the attempt failed with a code in `retry.codes` (default `UNAVAILABLE`),
//!   learned *before* any response data: a trailers-only response (the status
//!   is in the headers) or a failure to send. Once response headers without a
//!   status arrive the call is committed and never retried;
//! - the method is idempotent (`retry.idempotent_methods`, or
//!   [`CallOptions::idempotent`](super::CallOptions)) — or the attempt never
//!   reached a server (connection refused, no endpoint), which is always safe;
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
//! use boost_rpc::client::{ClientMetrics, ClientSettings};
//! use tower::Layer;
//!
//! let settings = ClientSettings::default();
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50052").connect_lazy();
//! let retrying = RetryLayer::from_settings(&settings.retry, ClientMetrics::new("profiles"))?
//!     .layer(channel);
//! # let _ = retrying;
//! # Ok(()) }
//! ```

mod backoff;
mod budget;
mod policy;
mod replay;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderValue, Request, Response};
use tonic::body::Body;
use tower::{Layer, Service, ServiceExt};

pub use backoff::{GRPC_RETRY_PUSHBACK_MS, Pushback, RetryBackoff};
pub use budget::RetryBudget;
pub use policy::{MAX_ATTEMPTS_CAP, RetryPolicy};
pub use replay::{Buffered, MAX_REPLAY_BYTES, buffer};

use super::deadline::CallDeadline;
use super::metrics::{ClientMetrics, code_name};
use super::{CallOptions, grpc_status, method_of};
use crate::RpcError;
use crate::client::settings::RetrySettings;

/// The request header telling the server how many attempts came before.
pub const GRPC_PREVIOUS_RPC_ATTEMPTS: &str = "grpc-previous-rpc-attempts";

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
    /// A layer from explicit parts.
    pub fn new(
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

    /// A layer from settings (fails on an unknown code name).
    pub fn from_settings(
        settings: &RetrySettings,
        metrics: Arc<ClientMetrics>,
    ) -> Result<Self, RpcError> {
        Ok(Self::new(
            RetryPolicy::from_settings(settings)?,
            RetryBudget::from_settings(settings),
            RetryBackoff::from_settings(settings),
            metrics,
        ))
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
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, RpcError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| RpcError::from_boxed(e.into()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The polled-ready service makes the first attempt; clones the rest.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        Box::pin(run(ready, request, self.shared.clone()))
    }
}

/// Why the loop stopped retrying (for the span event).
fn stop(reason: &'static str, attempt: u32, code: tonic::Code) {
    if attempt > 1 || code != tonic::Code::Ok {
        tracing::debug!(attempt, code = code_name(code), reason, "not retrying");
    }
}

async fn run<S>(
    mut ready: S,
    request: Request<Body>,
    shared: Arc<Shared>,
) -> Result<Response<Body>, RpcError>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send + 'static,
{
    let (parts, body) = request.into_parts();
    let method = method_of(&parts.uri);
    let idempotent = parts
        .extensions
        .get::<CallOptions>()
        .and_then(|o| o.idempotent)
        .unwrap_or_else(|| shared.policy.is_idempotent(method));
    let deadline = parts.extensions.get::<CallDeadline>().copied();
    shared.budget.deposit();

    let buffered = buffer(body, MAX_REPLAY_BYTES).await?;
    let replayable = match buffered {
        Buffered::Once(body) => {
            // Not replayable: exactly one attempt.
            let request = Request::from_parts(parts, body);
            return ready
                .call(request)
                .await
                .map_err(|e| RpcError::from_boxed(e.into()));
        }
        Buffered::Replayable(_) => buffered,
    };

    let mut attempt: u32 = 1;
    loop {
        let mut request = Request::new(replayable.body().unwrap_or_default());
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.version_mut() = parts.version;
        *request.headers_mut() = parts.headers.clone();
        *request.extensions_mut() = parts.extensions.clone();
        if attempt > 1 {
            request
                .headers_mut()
                .insert(GRPC_PREVIOUS_RPC_ATTEMPTS, HeaderValue::from(attempt - 1));
            if let Some(d) = deadline
                && !d.stamp(request.headers_mut())
            {
                return Err(RpcError::deadline_exceeded(format!(
                    "deadline passed before attempt {attempt}"
                )));
            }
        }

        let result = if attempt == 1 {
            ready.call(request).await
        } else {
            ready.clone().oneshot(request).await
        }
        .map_err(|e| RpcError::from_boxed(e.into()));

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
        let retryable =
            shared.policy.is_retryable(code) || (unsent && code == tonic::Code::Unavailable);
        if !retryable {
            stop("code not retryable", attempt, code);
            return result;
        }
        if !(idempotent || unsent) {
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
            Pushback::After(d) => d,
            Pushback::None => shared.backoff.delay(attempt),
        };
        if let Some(d) = deadline
            && Instant::now() + delay >= d.0
        {
            stop("deadline would pass during backoff", attempt, code);
            return result;
        }
        if !shared.budget.withdraw() {
            shared
                .metrics
                .record_budget_exhausted(method_of(&parts.uri));
            stop("retry budget exhausted", attempt, code);
            return result;
        }
        shared.metrics.record_retry(method_of(&parts.uri));
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
    }
}
