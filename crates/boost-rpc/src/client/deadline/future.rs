//! The response future of [`Deadline`](super::Deadline).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::Response;

use crate::RpcError;

pin_project_lite::pin_project! {
    /// Response future of [`Deadline`](super::Deadline): maps the end of
    /// the deadline to `DEADLINE_EXCEEDED` (and runs its own timer when the
    /// layer has one).
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) inner: Option<F>,
        #[pin]
        pub(super) sleep: Option<tokio::time::Sleep>,
        pub(super) timer: bool,
        pub(super) failed: Option<RpcError>,
        pub(super) deadline: Instant,
        pub(super) budget: Duration,
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<Response<R>, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(Err(this.failed.take().unwrap_or_else(|| {
                RpcError::deadline_exceeded("not sent: the deadline had already passed")
            })));
        };
        let budget = *this.budget;
        match inner.poll(cx) {
            Poll::Ready(Ok(response))
                if super::cancelled_at_deadline(&response, *this.deadline, budget) =>
            {
                Poll::Ready(Err(RpcError::deadline_exceeded(format!(
                    "no answer within the call's {budget:?} (upstream cancelled at its grpc-timeout)"
                ))))
            }
            Poll::Ready(result) => Poll::Ready(result.map_err(|e| RpcError::from_boxed(e.into()))),
            Poll::Pending if !*this.timer => Poll::Pending,
            Poll::Pending => {
                if this.sleep.is_none() {
                    this.sleep
                        .set(Some(tokio::time::sleep_until((*this.deadline).into())));
                }
                match this.sleep.as_pin_mut().map(|sleep| sleep.poll(cx)) {
                    Some(Poll::Ready(())) => Poll::Ready(Err(RpcError::deadline_exceeded(
                        format!("no answer within the call's {budget:?}"),
                    ))),
                    _ => Poll::Pending,
                }
            }
        }
    }
}
