//! [`ResponseBody`]: the response body of [`Observe`](super::Observe) (and
//! of a [`Client`](crate::client::Client)).

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::body::Body;
use tonic::codegen::Bytes;
use tonic::{Code, Status};

use super::CallRecord;
use crate::client::sanitize::Framing;
use crate::status_code::grpc_status;

/// A response body that records the call when its trailers arrive: the
/// upstream's body, unchanged.
///
/// Responses of [`Observe`](super::Observe) (and so of a
/// [`Client`](crate::client::Client))
/// carry it as is rather than boxed into a `tonic::body::Body`: generated
/// clients take any body, and that saves an allocation per call.
pub struct ResponseBody {
    pub(super) inner: Body,
    pub(super) record: Option<CallRecord>,
    /// To tell a message tonic could not decode (INTERNAL) from a cancel.
    pub(super) framing: Framing,
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        self.framing.asked_again();
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let code = match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && self.record.is_some()
                {
                    self.framing.feed(data);
                }
                frame
                    .trailers_ref()
                    .map(|t| grpc_status(t).unwrap_or(Code::Unknown))
            }
            Poll::Ready(Some(Err(status))) => Some(status.code()),
            Poll::Ready(None) => Some(Code::Unknown),
            Poll::Pending => None,
        };
        if let Some(code) = code
            && let Some(record) = self.record.take()
        {
            record.finish(code);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody").finish_non_exhaustive()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            // As for the attempt (see `sanitize`): dropped right after a
            // complete message means tonic could not decode it.
            let code = if self.framing.looks_undecodable() {
                Code::Internal
            } else {
                Code::Cancelled
            };
            record.finish(code);
        }
    }
}
