//! Deadlines: honour the caller's `grpc-timeout` and stop working when it passes.
//!
//! [`DeadlineLayer`] reads the `grpc-timeout` header (the caller's remaining
//! time budget, e.g. `100m` for 100 ms) and, when the server's settings set a
//! `request_timeout`, takes the earlier of the two. The handler then runs
//!
//! - inside [`crate::deadline::scope`], so handler code can ask
//!   [`crate::deadline::remaining`] and every boost-rpc client called from it
//!   sends at most the time that is left — deadlines propagate down a call
//!   chain without anyone passing them along by hand;
//! - against a timer: when the deadline passes, the handler's future is dropped
//!   (it is cancelled at its next `.await`, its drop guards run) and the caller
//!   gets `DEADLINE_EXCEEDED` ("deadline exceeded"; HTTP `504` for a non-gRPC
//!   request) — there is no point finishing work nobody waits for.
//!
//! A call without `grpc-timeout` and without a `request_timeout` runs unbounded
//! and unscoped, at no cost. A malformed `grpc-timeout` is ignored (and logged
//! at debug level). The timer bounds the time until the response *headers*: a
//! unary handler entirely, a streaming response only until it starts.

pub mod future;

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{HeaderMap, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use self::future::{DeadlineState, ResponseFuture};
use super::grpc;
use crate::grpc_timeout;

/// Layer that applies [`Deadline`]. Cheap to clone.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeadlineLayer {
    max: Option<Duration>,
}

impl DeadlineLayer {
    /// Honours the caller's `grpc-timeout` only.
    pub const fn new() -> Self {
        DeadlineLayer { max: None }
    }

    /// Also bounds every call to at most `max`, even when the caller sent no
    /// `grpc-timeout` or a longer one.
    pub const fn with_max(max: Option<Duration>) -> Self {
        DeadlineLayer { max }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            max: self.max,
        }
    }
}

/// Runs each call within its deadline; answers `DEADLINE_EXCEEDED` when it passes.
#[derive(Clone, Debug)]
pub struct Deadline<S> {
    inner: S,
    max: Option<Duration>,
}

impl<S> Deadline<S> {
    /// Wraps `inner`, honouring `grpc-timeout` only.
    pub const fn new(inner: S) -> Self {
        Deadline { inner, max: None }
    }
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Deadline<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let budget = match (callers_timeout(req.headers()), self.max) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(budget) = budget else {
            return ResponseFuture {
                state: DeadlineState::Unbounded {
                    inner: self.inner.call(req),
                },
            };
        };
        let deadline = crate::deadline::after(Instant::now(), budget);
        let grpc = grpc::is_grpc(&req);
        let inner = self.inner.call(req);
        ResponseFuture {
            state: DeadlineState::Bounded {
                inner: Some(crate::deadline::scoped(deadline, inner)),
                timer: None,
                deadline,
                grpc,
            },
        }
    }
}

/// The caller's `grpc-timeout`, if it sent a well-formed one (a malformed
/// one is logged at debug level and ignored).
fn callers_timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = crate::header_scan::get(headers, &grpc_timeout::HEADER)?;
    let parsed = grpc_timeout::parse(value.as_bytes());
    if parsed.is_none() {
        tracing::debug!(value = ?value, "ignoring malformed grpc-timeout");
    }
    parsed
}
