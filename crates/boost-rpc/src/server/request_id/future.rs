//! The response future of [`SetRequestId`](super::SetRequestId).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderValue, Response};
use pin_project_lite::pin_project;

use super::{HEADER, RequestId};

pin_project! {
    /// Response future of [`SetRequestId`](super::SetRequestId): adds a
    /// generated `x-request-id` to a plain HTTP response or a failed gRPC
    /// call's headers.
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) inner: tokio::task::futures::TaskLocalFuture<RequestId, F>,
        pub(super) echo: Option<HeaderValue>,
        pub(super) grpc: bool,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = std::task::ready!(this.inner.poll(cx))?;
        if let Some(echo) = this.echo.take() {
            let failed = || {
                crate::status_code::grpc_status(res.headers())
                    .is_some_and(|code| code != tonic::Code::Ok)
            };
            if !*this.grpc || failed() {
                res.headers_mut().entry(HEADER).or_insert(echo);
            }
        }
        Poll::Ready(Ok(res))
    }
}
