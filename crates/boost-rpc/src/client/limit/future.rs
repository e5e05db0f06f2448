//! The response future of [`ConcurrencyLimit`](super::ConcurrencyLimit).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Slot, Waiting};
use crate::RpcError;

pin_project_lite::pin_project! {
    /// Response future of [`ConcurrencyLimit`](super::ConcurrencyLimit):
    /// holds the slot until the response arrives. A call that got a slot at
    /// once is not boxed.
    pub struct ResponseFuture<F, T> {
        #[pin]
        pub(super) inner: Option<F>,
        pub(super) slot: Option<Slot>,
        pub(super) waiting: Option<Waiting<T>>,
    }
}

impl<F, T, E> Future for ResponseFuture<F, T>
where
    F: Future<Output = Result<T, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<T, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(inner) = this.inner.as_pin_mut() {
            let result = std::task::ready!(inner.poll(cx));
            this.slot.take();
            return Poll::Ready(result.map_err(|e| RpcError::from_boxed(e.into())));
        }
        match this.waiting {
            Some(waiting) => waiting.as_mut().poll(cx),
            None => Poll::Ready(Err(RpcError::Overloaded(
                tonic::Status::resource_exhausted(
                    "client concurrency limit: polled after completion",
                ),
            ))),
        }
    }
}
