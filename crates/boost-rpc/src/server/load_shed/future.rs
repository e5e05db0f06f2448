//! The response future of [`LoadShed`](super::LoadShed).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderValue, Response};
use pin_project_lite::pin_project;
use tonic::Code;

use super::{OVERLOADED, ResponseBody, Slot};
use crate::client::retry::GRPC_RETRY_PUSHBACK_MS;
use crate::server::body::ObservedBody;
use crate::server::grpc;

pin_project! {
    /// Response future of [`LoadShed`](super::LoadShed).
    pub struct ResponseFuture<F> {
        #[pin]
        pub(super) state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    pub(super) enum State<F> {
        /// The call got a slot and runs.
        Admitted { #[pin] inner: F, permit: Option<Slot> },
        /// The call was refused; gRPC calls get `pushback` when set.
        Shed { grpc: bool, pushback: Option<HeaderValue> },
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
            StateProj::Admitted { inner, permit } => {
                let res = std::task::ready!(inner.poll(cx));
                if let Some(permit) = permit.as_mut() {
                    // An error is an answer too (the connection drops it).
                    permit.answered();
                }
                let res = res?;
                let res = match permit.take() {
                    // An adaptive limit bounds calls until they answer: the
                    // slot goes back now, so a long stream does not hold it.
                    Some(permit) if permit.released_at_head() => {
                        drop(permit);
                        ObservedBody::unobserved(res)
                    }
                    Some(permit) => ObservedBody::wrap(res, permit),
                    None => ObservedBody::unobserved(res),
                };
                Poll::Ready(Ok(res.map(|inner| ResponseBody { inner })))
            }
            StateProj::Shed { grpc, pushback } => {
                let mut res = grpc::error_response(*grpc, Code::ResourceExhausted, OVERLOADED);
                if *grpc && let Some(pushback) = pushback.take() {
                    res.headers_mut().insert(GRPC_RETRY_PUSHBACK_MS, pushback);
                }
                Poll::Ready(Ok(res.map(|inner| ResponseBody { inner })))
            }
        }
    }
}
