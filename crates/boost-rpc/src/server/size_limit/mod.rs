//! Request size limit: refuse request bodies larger than the settings allow,
//! and stop waiting on one that has gone silent.
//!
//! [`RequestSizeLimitLayer::new(max)`](RequestSizeLimitLayer::new) bounds the
//! whole request body — every message of a client stream together, gRPC
//! framing included — to `max` bytes. A request that announces a larger
//! `content-length` is refused before the handler runs; one that grows past the
//! limit while streaming fails when it crosses it: the body yields a
//! [`tonic::Status`] `RESOURCE_EXHAUSTED`, which tonic's decoder hands to the
//! handler as the decode error and so to the caller. For HTTP services the
//! up-front refusal is `413`-ish (`429` by the code mapping; see
//! [`ServiceError::http_status`](crate::ServiceError::http_status)).
//!
//! A single message over tonic's per-message limit (the same bound, given to
//! each generated server) is refused by tonic's decoder before this layer
//! sees it, as `OUT_OF_RANGE`; this layer rewrites that answer to
//! `RESOURCE_EXHAUSTED`, so every oversized request gets the one documented
//! code.
//!
//! With [`RequestSizeLimitLayer::idle_timeout`] (the server stack sets
//! `request_body_idle_timeout`, 60 s) a body that sends nothing for that
//! long before it ends yields `DEADLINE_EXCEEDED`: a peer that sent a call's
//! headers and then went silent no longer holds its slot of the
//! concurrency limit for as long as its connection lives. The timer is
//! armed only while the body waits for the peer, so a unary request, whose
//! bytes are there when the handler reads them, costs nothing more.
//!
//! Per-message limits and the *response* size are tonic's to enforce, on each
//! generated server (tonic decodes messages up to 4 MiB by default, and
//! encodes responses of any size unless told):
//!
//! ```
//! # use boost_test_proto::greeter_server::{Greeter, GreeterServer};
//! # fn wrap<T: Greeter>(svc: T) {
//! let settings = boost_rpc::server::ServerSettings::default();
//! let server = GreeterServer::new(svc)
//!     .max_encoding_message_size(settings.max_response_message_bytes());
//! # let _ = server;
//! # }
//! ```

pub mod future;
mod idle;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::CONTENT_LENGTH;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use prost::bytes::Buf;
use tower_layer::Layer;
use tower_service::Service;

use self::future::{ResponseFuture, SizeLimitState};
use self::idle::IdleTimer;
use super::grpc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Layer that applies [`RequestSizeLimit`]. Cheap to clone.
#[derive(Clone, Copy, Debug)]
pub struct RequestSizeLimitLayer {
    max: usize,
    idle: Option<Duration>,
}

impl RequestSizeLimitLayer {
    /// Request bodies of at most `max` bytes, with no idle bound.
    pub const fn new(max: usize) -> Self {
        RequestSizeLimitLayer { max, idle: None }
    }

    /// Also ends a call whose request body sends nothing for `idle` before
    /// it ends: the body yields `DEADLINE_EXCEEDED` (see
    /// [`ServerSettings::request_body_idle_timeout`](super::ServerSettings::request_body_idle_timeout)).
    #[must_use]
    pub const fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle = Some(idle);
        self
    }
}

impl<S> Layer<S> for RequestSizeLimitLayer {
    type Service = RequestSizeLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestSizeLimit {
            inner,
            max: self.max,
            idle: self.idle,
        }
    }
}

/// Refuses request bodies larger than its limit.
#[derive(Clone, Debug)]
pub struct RequestSizeLimit<S> {
    inner: S,
    max: usize,
    idle: Option<Duration>,
}

impl<S> RequestSizeLimit<S> {
    /// Wraps `inner` with a limit of `max` bytes per request body.
    pub const fn new(inner: S, max: usize) -> Self {
        RequestSizeLimit {
            inner,
            max,
            idle: None,
        }
    }
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequestSizeLimit<S>
where
    S: Service<Request<LimitedBody<ReqBody>>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let announced = crate::header_scan::get(req.headers(), &CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if announced.is_some_and(|len| len > self.max as u64) {
            return ResponseFuture {
                state: SizeLimitState::TooLarge {
                    grpc: grpc::is_grpc(&req),
                },
            };
        }
        let max = self.max;
        ResponseFuture {
            state: SizeLimitState::Called {
                inner: self.inner.call(req.map(|inner| LimitedBody {
                    inner,
                    remaining: max,
                    max,
                    idle: IdleTimer::new(self.idle),
                })),
            },
        }
    }
}

pin_project! {
    /// A request body that fails with `RESOURCE_EXHAUSTED` once it has
    /// yielded more than its limit, and with `DEADLINE_EXCEEDED` once it has waited
    /// its idle timeout for the peer's next frame.
    pub struct LimitedBody<B> {
        #[pin]
        inner: B,
        remaining: usize,
        max: usize,
        #[pin]
        idle: IdleTimer,
    }
}

impl<B> Body for LimitedBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let polled = match this.inner.poll_frame(cx) {
            Poll::Ready(polled) => polled,
            Poll::Pending => {
                let idle = std::task::ready!(this.idle.as_mut().poll_expired(cx));
                let status = tonic::Status::deadline_exceeded(format!(
                    "the request body sent nothing for {idle:?}; the server stopped waiting \
                     (grpc.server.request_body_idle_timeout)"
                ));
                return Poll::Ready(Some(Err(Box::new(status))));
            }
        };
        this.idle.progressed();
        match polled {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.remaining();
                    if len > *this.remaining {
                        let status = tonic::Status::resource_exhausted(format!(
                            "request body larger than the server's limit of {} bytes",
                            this.max
                        ));
                        return Poll::Ready(Some(Err(Box::new(status))));
                    }
                    *this.remaining -= len;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e.into()))),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
