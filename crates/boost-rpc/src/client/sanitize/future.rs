//! The response future of [`Sanitize`](super::Sanitize).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use tonic::body::Body;

use super::attempt::Attempt;
use super::body::{CheckedBody, Framing};
use super::metadata::{drop_malformed_details, header_list_size, too_large};
use crate::RpcError;
use crate::status_code::grpc_status;

pin_project_lite::pin_project! {
    /// Response future of [`Sanitize`](super::Sanitize): checks the
    /// response's headers, and its trailers through the body it returns.
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) inner: F,
        pub(super) max_metadata: usize,
        pub(super) attempt: Option<Attempt>,
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<Response<Body>, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let mut attempt = this.attempt.take().unwrap_or(Attempt::new(None, ""));
        let response = match result {
            Ok(response) => response,
            Err(e) => {
                let e = RpcError::from_boxed(e.into());
                attempt.record(e.code());
                return Poll::Ready(Err(e));
            }
        };
        let max = *this.max_metadata;
        let size = header_list_size(response.headers());
        if size > max {
            // Dropping the body resets this stream only.
            let status = too_large("headers", size, max);
            attempt.record(status.code());
            return Poll::Ready(Ok(status.into_http()));
        }
        let (mut parts, body) = response.into_parts();
        drop_malformed_details(&mut parts.headers);
        if let Some(code) = grpc_status(&parts.headers) {
            // Trailers-only: the status is known, the body is empty.
            attempt.record(code);
            return Poll::Ready(Ok(Response::from_parts(parts, body)));
        }
        let body = Body::new(CheckedBody {
            inner: body,
            max_metadata: max,
            attempt,
            framing: Framing::default(),
        });
        Poll::Ready(Ok(Response::from_parts(parts, body)))
    }
}
