//! The response future of [`RequestSizeLimit`](super::RequestSizeLimit).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;
use tonic::Code;

use crate::server::grpc;
use crate::status_bound;

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
            // The innermost layer sees the handler's answer first: every
            // layer above (metrics, trace) sees the bounded, remapped status.
            SizeLimitProj::Called { inner } => inner.poll(cx).map_ok(|mut response| {
                if crate::status_code::grpc_status(response.headers()).is_some() {
                    let headers = response.headers_mut();
                    status_bound::oversized_request_is_resource_exhausted(headers);
                    status_bound::bound_status_headers(headers);
                }
                response
            }),
            SizeLimitProj::TooLarge { grpc } => Poll::Ready(Ok(grpc::error_response(
                *grpc,
                Code::ResourceExhausted,
                "request larger than the server accepts",
            ))),
        }
    }
}
