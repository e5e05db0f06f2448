//! A panicking handler answers `INTERNAL`; the panic stays in the logs.
//!
//! Without [`CatchPanicLayer`] a panic in a handler unwinds through hyper's
//! connection task: the caller sees its stream reset, and nothing records what
//! went wrong in the call's span. With it, the panic is caught at the handler,
//! logged at error level inside the call's span (so it carries the trace id)
//! with its message, and the caller gets `INTERNAL` with the fixed message
//! `"internal error"` — panic messages can hold data the caller must not see.
//! Non-gRPC requests get HTTP `500` with an empty body.

pub mod future;

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};

use futures::FutureExt;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use self::future::{CatchPanicState, ResponseFuture};
use super::grpc;

/// The only thing a caller learns about a panic.
const INTERNAL: &str = "internal error";

/// Layer that applies [`CatchPanic`]. Cheap to clone.
#[derive(Clone, Copy, Debug, Default)]
pub struct CatchPanicLayer;

impl CatchPanicLayer {
    /// The layer.
    pub const fn new() -> Self {
        CatchPanicLayer
    }
}

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic::new(inner)
    }
}

/// Turns a panic in the inner service into an `INTERNAL` answer.
#[derive(Clone, Debug)]
pub struct CatchPanic<S> {
    inner: S,
}

impl<S> CatchPanic<S> {
    /// Wraps `inner`.
    pub const fn new(inner: S) -> Self {
        CatchPanic { inner }
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CatchPanic<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
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
        let grpc = grpc::is_grpc(&req);
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
            Ok(fut) => ResponseFuture {
                state: CatchPanicState::Running {
                    inner: AssertUnwindSafe(fut).catch_unwind(),
                    grpc,
                },
            },
            Err(panic) => {
                log_panic(&*panic);
                ResponseFuture {
                    state: CatchPanicState::Panicked { grpc },
                }
            }
        }
    }
}

fn log_panic(panic: &(dyn Any + Send)) {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)");
    tracing::error!(panic = message, "handler panicked; answered INTERNAL");
}
