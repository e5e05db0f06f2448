//! The response future of [`RequestSizeLimit`](super::RequestSizeLimit).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;
use tonic::Code;

use crate::server::grpc;

pin_project! {
    /// Response future of [`RequestSizeLimit`](super::RequestSizeLimit).
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) state: SizeLimitState<F>,
    }
}

pin_project! {
    #[project = SizeLimitProj]
    pub(super) enum SizeLimitState<F> {
        /// The handler runs.
        Called { #[pin] inner: F },
        /// The request announced a body over the limit.
        TooLarge { grpc: bool },
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
            SizeLimitProj::Called { inner } => inner.poll(cx),
            SizeLimitProj::TooLarge { grpc } => Poll::Ready(Ok(grpc::error_response(
                *grpc,
                Code::ResourceExhausted,
                "request larger than the server accepts",
            ))),
        }
    }
}
