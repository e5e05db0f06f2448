//! The response future of [`Tape`](super::Tape).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use tonic::body::Body;

use crate::RpcError;

/// The answer of a taped call: from the tape, or from the upstream once the
/// exchange is written. Boxed once: record and replay are test-time paths,
/// and the exchange is an `async` block holding the buffered messages.
pub struct ResponseFuture {
    pub(super) inner: Pin<Box<dyn Future<Output = Result<Response<Body>, RpcError>> + Send>>,
}

impl Future for ResponseFuture {
    type Output = Result<Response<Body>, RpcError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
