//! The response future of [`Metrics`](super::Metrics).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;
use tonic::Code;

use super::{CallRecord, ResponseBody};
use crate::server::body::{ObservedBody, OnEnd};

pin_project! {
    /// Response future of [`Metrics`](super::Metrics).
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) inner: F,
        pub(super) record: Option<CallRecord>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before the handler answered: the client went away.
            if let Some(record) = this.project().record.take() {
                record.on_end(Code::Cancelled);
            }
        }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body,
{
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let Some(record) = this.record.take() else {
            return Poll::Pending; // polled after completion
        };
        Poll::Ready(match result {
            Ok(res) => Ok(ObservedBody::wrap(res, record).map(|inner| ResponseBody { inner })),
            Err(e) => {
                record.on_end(Code::Unknown);
                Err(e)
            }
        })
    }
}
