//! The response future of [`Retry`](super::Retry).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tonic::body::Body;
use tower::Service;

use super::{Again, retry_after};
use crate::RpcError;
use crate::status_code::grpc_status;

/// The attempts after the first, boxed (only calls that retry get here).
type Retrying = Pin<Box<dyn Future<Output = Result<Response<Body>, RpcError>> + Send>>;

pin_project_lite::pin_project! {
    /// Response future of [`Retry`](super::Retry). The first attempt is
    /// polled in place; only a call that is actually retried allocates its
    /// retry loop.
    pub struct ResponseFuture<S: Service<Request<Body>>> {
        #[pin]
        first: Option<S::Future>,
        again: Option<Again<S>>,
        retrying: Option<Retrying>,
        failed: Option<RpcError>,
    }
}

impl<S: Service<Request<Body>>> ResponseFuture<S> {
    pub(super) fn first(first: S::Future, again: Option<Again<S>>) -> Self {
        Self {
            first: Some(first),
            again,
            retrying: None,
            failed: None,
        }
    }

    pub(super) fn failed(e: RpcError) -> Self {
        Self {
            first: None,
            again: None,
            retrying: None,
            failed: Some(e),
        }
    }
}

impl<S> Future for ResponseFuture<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send + 'static,
{
    type Output = Result<Response<Body>, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Some(retrying) = this.retrying.as_mut() {
            return retrying.as_mut().poll(cx);
        }
        let Some(first) = this.first.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(this.failed.take().unwrap_or_else(|| {
                RpcError::unavailable_unsent("retry: polled after completion")
            })));
        };
        let result = std::task::ready!(first.poll(cx)).map_err(|e| RpcError::from_boxed(e.into()));
        this.first.set(None);
        // Answered (headers without a status, or OK): the common case, done.
        if let Ok(response) = &result
            && matches!(
                grpc_status(response.headers()),
                None | Some(tonic::Code::Ok)
            )
        {
            return Poll::Ready(result);
        }
        let Some(again) = this.again.take() else {
            return Poll::Ready(result);
        };
        let mut retrying: Retrying = Box::pin(retry_after(again, result));
        let polled = retrying.as_mut().poll(cx);
        *this.retrying = Some(retrying);
        polled
    }
}
