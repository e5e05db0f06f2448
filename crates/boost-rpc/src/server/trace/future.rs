//! The response future of [`Trace`](super::Trace).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;
use tonic::Code;
use tracing::Span;

use super::{ResponseBody, SpanRecord};
use crate::server::body::{ObservedBody, OnEnd};

pin_project! {
    /// Response future of [`Trace`](super::Trace): polls the handler inside
    /// the span.
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) inner: F,
        pub(super) span: Option<Span>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(span) = this.project().span.take() {
                SpanRecord { span }.on_end(Code::Cancelled);
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
        let result = match this.span.as_ref() {
            Some(span) if span.is_disabled() => std::task::ready!(this.inner.poll(cx)),
            Some(span) => {
                let _entered = span.enter();
                std::task::ready!(this.inner.poll(cx))
            }
            None => return Poll::Pending, // polled after completion
        };
        let Some(span) = this.span.take() else {
            return Poll::Pending;
        };
        if span.is_disabled() {
            return Poll::Ready(
                result.map(|res| ObservedBody::unobserved(res).map(|inner| ResponseBody { inner })),
            );
        }
        let record = SpanRecord { span };
        Poll::Ready(match result {
            Ok(res) => Ok(ObservedBody::wrap(res, record).map(|inner| ResponseBody { inner })),
            Err(e) => {
                record.on_end(Code::Unknown);
                Err(e)
            }
        })
    }
}
