//! The response future of [`Balance`](super::Balance), and how an attempt
//! is sent to the picked endpoint.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::{Service, ServiceExt};

use super::InFlight;
use crate::RpcError;
use crate::client::eject::is_endpoint_failure;
use crate::status_code::grpc_status;

pin_project_lite::pin_project! {
    /// Sending to the picked endpoint's service: called at once when it is
    /// ready (the usual case: a channel with room in its queue), so the
    /// future does not carry the request; otherwise a boxed [`Oneshot`]
    /// waits for readiness.
    ///
    /// [`Oneshot`]: tower::util::Oneshot
    #[project = DispatchProj]
    pub(super) enum Dispatch<S: Service<Req>, Req> {
        Called {
            #[pin]
            future: S::Future,
        },
        Waiting {
            oneshot: Pin<Box<tower::util::Oneshot<S, Req>>>,
        },
    }
}

impl<S: Service<Req>, Req> Dispatch<S, Req> {
    pub(super) fn start(mut service: S, request: Req) -> Self {
        // Readiness without a task: a `Pending` here is asked again, with
        // the task's waker, by the `Oneshot`.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match service.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => Self::Called {
                future: service.call(request),
            },
            // An error is reported by the `Oneshot` the same way.
            _ => Self::Waiting {
                oneshot: Box::pin(service.oneshot(request)),
            },
        }
    }
}

impl<S: Service<Req>, Req> Future for Dispatch<S, Req> {
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            DispatchProj::Called { future } => future.poll(cx),
            DispatchProj::Waiting { oneshot } => oneshot.as_mut().poll(cx),
        }
    }
}

/// A call that waits for discovery's first answer (only before it), boxed.
pub(super) type Waiting<R> = Pin<Box<dyn Future<Output = Result<Response<R>, RpcError>> + Send>>;

pin_project_lite::pin_project! {
    /// Response future of [`Balance`](super::Balance). Once discovery has
    /// answered, an endpoint is picked in `call` and the attempt is not boxed.
    pub struct ResponseFuture<S: Service<Req>, Req, R> {
        #[pin]
        pub(super) attempt: Option<Attempt<S, Req>>,
        pub(super) done: Option<RpcError>,
        pub(super) waiting: Option<Waiting<R>>,
    }
}

pin_project_lite::pin_project! {
    /// One attempt on a picked endpoint.
    pub(super) struct Attempt<S: Service<Req>, Req> {
        #[pin]
        pub(super) call: Dispatch<S, Req>,
        pub(super) in_flight: Option<InFlight>,
        pub(super) penalty: std::time::Duration,
    }
}

impl<S, B, R> Future for ResponseFuture<S, Request<B>, R>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<Response<R>, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(attempt) = this.attempt.as_pin_mut() {
            let attempt = attempt.project();
            let result = std::task::ready!(attempt.call.poll(cx));
            let Some(in_flight) = attempt.in_flight.take() else {
                return Poll::Ready(result.map_err(|e| RpcError::from_boxed(e.into())));
            };
            return Poll::Ready(match result {
                Ok(response) => {
                    if grpc_status(response.headers()).is_some_and(is_endpoint_failure) {
                        in_flight.fail(*attempt.penalty);
                    } else {
                        in_flight.complete();
                    }
                    Ok(response)
                }
                Err(e) => {
                    in_flight.fail(*attempt.penalty);
                    Err(RpcError::from_boxed(e.into()))
                }
            });
        }
        if let Some(waiting) = this.waiting {
            return waiting.as_mut().poll(cx);
        }
        Poll::Ready(Err(this.done.take().unwrap_or_else(|| {
            RpcError::unavailable_unsent("balancer polled after completion")
        })))
    }
}
