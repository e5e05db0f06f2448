//! The response future of [`LoadShed`](super::LoadShed).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;
use tonic::Code;

use super::{OVERLOADED, ResponseBody, Slot};
use crate::server::body::ObservedBody;
use crate::server::grpc;

pin_project! {
    /// Response future of [`LoadShed`](super::LoadShed).
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) state: LoadShedState<F>,
    }
}

pin_project! {
    #[project = LoadShedProj]
    pub(super) enum LoadShedState<F> {
        /// The call got a slot and runs.
        Admitted { #[pin] inner: F, permit: Option<Slot> },
        /// The call was refused.
        Shed { grpc: bool },
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body,
    ResBody: Default,
{
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            LoadShedProj::Admitted { inner, permit } => {
                let res = std::task::ready!(inner.poll(cx))?;
                let res = match permit.take() {
                    Some(permit) => ObservedBody::wrap(res, permit),
                    None => res.map(|_| ObservedBody::default()),
                };
                Poll::Ready(Ok(res.map(|inner| ResponseBody { inner })))
            }
            LoadShedProj::Shed { grpc } => {
                let res = grpc::error_response(*grpc, Code::ResourceExhausted, OVERLOADED);
                Poll::Ready(Ok(res.map(|inner| ResponseBody { inner })))
            }
        }
    }
}
