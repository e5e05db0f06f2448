//! The response future of [`Eject`](super::Eject).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::Response;
use tonic::Code;

use super::{Admission, Outcome, ProbeGuard, is_endpoint_failure};
use crate::RpcError;
use crate::status_code::grpc_status;

pin_project_lite::pin_project! {
    /// Response future of [`Eject`](super::Eject): records the attempt's
    /// outcome in the endpoint's health (a concrete future: nothing boxed
    /// per call).
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) inner: Option<F>,
        pub(super) refused: Option<RpcError>,
        pub(super) guard: Option<ProbeGuard>,
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
            return Poll::Ready(Err(this.refused.take().unwrap_or_else(|| {
                RpcError::unavailable_unsent("endpoint refused the attempt")
            })));
        };
        // A stream the server shows it never processed (GOAWAY, refused)
        // went over a live connection: unsent, yet no failed connect.
        let mut not_processed = false;
        let result = std::task::ready!(inner.poll(cx)).map_err(|e| {
            let e = e.into();
            not_processed = crate::error::never_processed(e.as_ref()).is_some();
            RpcError::from_boxed(e)
        });
        if let Some(mut guard) = this.guard.take() {
            let code = match &result {
                Ok(response) => grpc_status(response.headers()).unwrap_or(Code::Ok),
                Err(e) => e.code(),
            };
            let outcome = match &result {
                Err(e) if e.is_unsent() && !not_processed => Outcome::ConnectFailure,
                _ if is_endpoint_failure(code) => Outcome::Failure,
                _ => Outcome::Success,
            };
            guard.done = true;
            // A success of a ready endpoint only needs a time within the
            // current window: the time of sending serves, no clock read.
            let now = if outcome == Outcome::Success && guard.admission == Admission::Ready {
                guard.sent_at
            } else {
                Instant::now()
            };
            guard.health.record(outcome, guard.admission, now);
        }
        Poll::Ready(result)
    }
}
