//! The response future of [`Deadline`](super::Deadline).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::Response;
use pin_project_lite::pin_project;
use tonic::Code;

use crate::server::grpc;

pin_project! {
    /// Response future of [`Deadline`](super::Deadline).
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) state: DeadlineState<F>,
    }
}

pin_project! {
    #[project = DeadlineProj]
    pub(super) enum DeadlineState<F> {
        /// No deadline: the handler's own future.
        Unbounded { #[pin] inner: F },
        /// The handler, scoped to its deadline, racing a timer. The timer
        /// is started only if the handler does not answer on its first poll
        /// (most unary handlers do): it is armed for the same instant, and
        /// a handler that is done at once never touches the timer wheel.
        Bounded {
            #[pin]
            inner: Option<tokio::task::futures::TaskLocalFuture<Instant, F>>,
            #[pin]
            timer: Option<tokio::time::Sleep>,
            deadline: Instant,
            grpc: bool,
        },
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
        match self.project().state.project() {
            DeadlineProj::Unbounded { inner } => inner.poll(cx),
            DeadlineProj::Bounded {
                mut inner,
                mut timer,
                deadline,
                grpc,
            } => {
                if let Some(fut) = inner.as_mut().as_pin_mut()
                    && let Poll::Ready(out) = fut.poll(cx)
                {
                    inner.set(None);
                    return Poll::Ready(out);
                }
                if timer.is_none() {
                    timer.set(Some(tokio::time::sleep_until((*deadline).into())));
                }
                if let Some(timer) = timer.as_pin_mut() {
                    std::task::ready!(timer.poll(cx));
                }
                // Cancel the handler now, before answering.
                inner.set(None);
                Poll::Ready(Ok(grpc::error_response(
                    *grpc,
                    Code::DeadlineExceeded,
                    "deadline exceeded",
                )))
            }
        }
    }
}
