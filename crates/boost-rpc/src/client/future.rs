//! The response future of [`Client`](super::Client).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tonic::body::Body;
use tower::Service;

use super::observe::ResponseBody;
use super::stack::Stack;
#[cfg(feature = "tape")]
use super::stack::TapedStack;
use crate::RpcError;

/// Response future of [`Client`](super::Client): the stack's futures, composed without
/// allocating, in one box. The composition is large (a request is held by
/// value until its attempt starts); boxed once here, the generated client's
/// own futures move a pointer instead of copying it at every await.
pub struct ResponseFuture {
    pub(super) inner: Pending,
}

/// The future of the client's stack, with or without a tape.
pub(super) enum Pending {
    Live(Pin<Box<<Stack as Service<Request<Body>>>::Future>>),
    #[cfg(feature = "tape")]
    Taped(Pin<Box<<TapedStack as Service<Request<Body>>>::Future>>),
}

impl Future for ResponseFuture {
    type Output = Result<Response<ResponseBody>, RpcError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.inner {
            Pending::Live(f) => f.as_mut().poll(cx),
            #[cfg(feature = "tape")]
            Pending::Taped(f) => f.as_mut().poll(cx),
        }
    }
}

impl std::fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
