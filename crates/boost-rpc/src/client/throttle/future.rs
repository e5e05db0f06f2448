//! The response future of [`ThrottleService`](super::ThrottleService).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::Response;
use tonic::Code;

use super::{Throttle, is_refusal};
use crate::RpcError;
use crate::status_code::grpc_status;

pin_project_lite::pin_project! {
    /// Response future of [`ThrottleService`](super::ThrottleService):
    /// counts the upstream's answer in the throttle's window (a concrete
    /// future: nothing boxed per call).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Option<F>,
        rejected: Option<RpcError>,
        sent: Option<Sent>,
    }
}

/// What the answer to a sent call is counted with.
struct Sent {
    throttle: Arc<Throttle>,
    at: Instant,
    full_budget: bool,
}

impl<F> ResponseFuture<F> {
    pub(super) fn rejected(error: RpcError) -> Self {
        Self {
            inner: None,
            rejected: Some(error),
            sent: None,
        }
    }

    pub(super) fn sent(inner: F, throttle: Arc<Throttle>, at: Instant, full_budget: bool) -> Self {
        Self {
            inner: Some(inner),
            rejected: None,
            sent: Some(Sent {
                throttle,
                at,
                full_budget,
            }),
        }
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<Response<R>, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(Err(this.rejected.take().unwrap_or_else(|| {
                RpcError::unavailable_unsent("client-side throttling: polled after completion")
            })));
        };
        let result = std::task::ready!(inner.poll(cx)).map_err(|e| RpcError::from_boxed(e.into()));
        if let Some(sent) = this.sent.take() {
            let code = match &result {
                Ok(response) => grpc_status(response.headers()).unwrap_or(Code::Ok),
                // Never reached the upstream (failed connect, ejected or no
                // endpoint): not its answer, and ejection already fails
                // those fast. Counting them would keep a returning upstream
                // throttled.
                Err(e) if e.is_unsent() => return Poll::Ready(result),
                Err(e) => e.code(),
            };
            let accepted = !is_refusal(code, sent.full_budget);
            sent.throttle.record(sent.at, accepted);
        }
        Poll::Ready(result)
    }
}
