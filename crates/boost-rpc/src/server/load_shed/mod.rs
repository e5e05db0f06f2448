//! Load shedding: a concurrency limit that answers at once instead of queueing.
//!
//! [`LoadShedLayer::new(limit)`](LoadShedLayer::new) lets at most `limit` calls
//! run at the same time across every connection the server holds. A call that
//! arrives when all slots are taken is answered immediately with
//! `RESOURCE_EXHAUSTED` ("server overloaded; retry later") — HTTP `429` for a
//! non-gRPC request — without reaching the handler. Nothing waits in a queue:
//! a queue in front of a saturated server only adds latency to every call
//! until callers' deadlines pass, while a quick refusal lets a client retry
//! elsewhere (boost-rpc clients do, within their retry budget).
//!
//! A slot is held until the response body ends, so a streaming call occupies
//! its slot for as long as it streams.

pub mod future;

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use std::sync::atomic::{AtomicUsize, Ordering};
use tonic::Code;
use tower_layer::Layer;
use tower_service::Service;

use self::future::{LoadShedState, ResponseFuture};
use super::body::{ObservedBody, OnEnd, response_body};
use super::grpc;

/// The message a shed call receives.
const OVERLOADED: &str = "server overloaded; retry later";

/// Layer that applies [`LoadShed`]. Clones share one limit.
#[derive(Clone, Debug)]
pub struct LoadShedLayer {
    slots: Arc<Slots>,
}

impl LoadShedLayer {
    /// At most `limit` calls in flight; `limit` is raised to 1 if it is 0.
    pub fn new(limit: usize) -> Self {
        LoadShedLayer {
            slots: Arc::new(Slots {
                limit: limit.max(1),
                taken: AtomicUsize::new(0),
            }),
        }
    }

    /// Slots free right now.
    pub fn available(&self) -> usize {
        self.slots
            .limit
            .saturating_sub(self.slots.taken.load(Ordering::Relaxed))
    }
}

/// The shared count of calls in flight. A plain counter, not a semaphore:
/// nobody ever waits for a slot, so there is no queue to manage.
#[derive(Debug)]
struct Slots {
    limit: usize,
    taken: AtomicUsize,
}

impl Slots {
    fn try_take(self: &Arc<Self>) -> Option<Slot> {
        let mut taken = self.taken.load(Ordering::Relaxed);
        loop {
            if taken >= self.limit {
                return None;
            }
            match self.taken.compare_exchange_weak(
                taken,
                taken + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(Slot(self.clone())),
                Err(now) => taken = now,
            }
        }
    }
}

/// One call's slot under the concurrency limit, given back when dropped
/// (when the response body ends).
#[derive(Debug)]
struct Slot(Arc<Slots>);

response_body! {
    /// The response body of [`LoadShed`]: the handler's body, unchanged; the
    /// call's slot is given back when it ends or is dropped.
    ResponseBody => ObservedBody<B, Slot>
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.taken.fetch_sub(1, Ordering::Release);
    }
}

impl OnEnd for Slot {
    // A slot only needs to know when the call ends, not how.
    const NEEDS_CODE: bool = false;

    fn on_end(self, _code: Code) {}
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoadShed {
            inner,
            slots: self.slots.clone(),
        }
    }
}

/// Refuses calls beyond the concurrency limit with `RESOURCE_EXHAUSTED`.
#[derive(Clone, Debug)]
pub struct LoadShed<S> {
    inner: S,
    slots: Arc<Slots>,
}

impl<S> LoadShed<S> {
    /// Wraps `inner` with a limit of `limit` calls in flight.
    pub fn new(inner: S, limit: usize) -> Self {
        LoadShedLayer::new(limit).layer(inner)
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for LoadShed<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
    ResBody: Default,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match self.slots.try_take() {
            Some(permit) => ResponseFuture {
                state: LoadShedState::Admitted {
                    inner: self.inner.call(req),
                    permit: Some(permit),
                },
            },
            None => {
                tracing::debug!(
                    method = grpc::method_of(&req),
                    "shedding call: concurrency limit reached"
                );
                ResponseFuture {
                    state: LoadShedState::Shed {
                        grpc: grpc::is_grpc(&req),
                    },
                }
            }
        }
    }
}
