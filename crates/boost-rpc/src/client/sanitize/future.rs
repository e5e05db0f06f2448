//! The response future of [`Sanitize`](super::Sanitize).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use tonic::body::Body;

use super::attempt::Attempt;
use super::body::{CheckedBody, Framing};
use super::metadata::{drop_malformed_details, scan, too_large};
use crate::RpcError;

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
        let mut response = match result {
            Ok(response) => response,
            Err(e) => {
                let e = RpcError::from_boxed(e.into());
                attempt.record(e.code());
                return Poll::Ready(Err(e));
            }
        };
        let max = *this.max_metadata;
        let found = scan(response.headers());
        if found.size > max {
            // Dropping the body resets this stream only.
            let status = too_large("headers", found.size, max);
            attempt.record(status.code());
            return Poll::Ready(Ok(status.into_http()));
        }
        if found.details {
            drop_malformed_details(response.headers_mut());
        }
        if let Some(code) = found.status {
            // Trailers-only: the status is known, the body is empty.
            attempt.record(code);
            return Poll::Ready(Ok(response));
        }
        Poll::Ready(Ok(response.map(|inner| {
            Body::new(CheckedBody {
                inner,
                max_metadata: max,
                attempt,
                framing: Framing::default(),
            })
        })))
    }
}
