//! The response future of [`CatchPanic`](super::CatchPanic).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::CatchUnwind;
use http::Response;
use pin_project_lite::pin_project;
use tonic::Code;

use super::{INTERNAL, log_panic};
use crate::server::grpc;

pin_project! {
    /// Response future of [`CatchPanic`](super::CatchPanic).
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) state: CatchPanicState<F>,
    }
}

pin_project! {
    #[project = CatchPanicProj]
    pub(super) enum CatchPanicState<F> {
        /// The handler runs.
        Running { #[pin] inner: CatchUnwind<AssertUnwindSafe<F>>, grpc: bool },
        /// The handler panicked while the call was being set up.
        Panicked { grpc: bool },
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Default,
{
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let grpc = match self.project().state.project() {
            CatchPanicProj::Running { inner, grpc } => match std::task::ready!(inner.poll(cx)) {
                Ok(out) => return Poll::Ready(out),
                Err(panic) => {
                    log_panic(&*panic);
                    *grpc
                }
            },
            CatchPanicProj::Panicked { grpc } => *grpc,
        };
        Poll::Ready(Ok(grpc::error_response(grpc, Code::Internal, INTERNAL)))
    }
}
