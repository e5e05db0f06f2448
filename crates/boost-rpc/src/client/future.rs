//! The response future of [`Client`](super::Client).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tonic::body::Body;
use tower::Service;

use super::observe::ResponseBody;
use super::stack::Stack;
use crate::RpcError;

/// Response future of [`Client`](super::Client): the stack's futures, composed without
/// allocating, in one box. The composition is large (a request is held by
/// value until its attempt starts); boxed once here, the generated client's
/// own futures move a pointer instead of copying it at every await.
pub struct ResponseFuture {
    pub(super) inner: Pin<Box<<Stack as Service<Request<Body>>>::Future>>,
}

impl Future for ResponseFuture {
    type Output = Result<Response<ResponseBody>, RpcError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
