//! A concurrency limit with a bounded wait: at most `limit` calls in flight;
//! a call that cannot get a slot within `max_wait` fails at once with
//! RESOURCE_EXHAUSTED instead of queueing behind a stalled upstream.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use boost_rpc::client::limit::ConcurrencyLimitLayer;
//! use tower::Layer;
//!
//! # async fn demo() {
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50052").connect_lazy();
//! let limited = ConcurrencyLimitLayer::new(100, Duration::from_millis(10)).layer(channel);
//! # let _ = limited;
//! # }
//! ```

pub mod future;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::Request;
use tokio::sync::Notify;
use tower::{Layer, Service};

use self::future::ResponseFuture;
use super::deadline::CallDeadline;
use crate::RpcError;

/// The slots of one limit, shared by every service a layer builds.
///
/// Taking and giving back a slot is one atomic read-modify-write each, with
/// no lock: a semaphore's release takes its waiter-list mutex on every call,
/// which under many calls in flight is a lock bounced between cores per call.
/// Only calls that find the limit full register as waiters.
#[derive(Debug)]
struct Slots {
    limit: usize,
    in_flight: AtomicUsize,
    /// Calls registered to wait for a slot; releases notify only when > 0.
    waiting: AtomicUsize,
    freed: Notify,
}

impl Slots {
    /// Takes a slot if one is free.
    fn try_take(&self) -> bool {
        let mut n = self.in_flight.load(Ordering::Relaxed);
        loop {
            if n >= self.limit {
                return false;
            }
            match self.in_flight.compare_exchange_weak(
                n,
                n + 1,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => n = now,
            }
        }
    }

    /// Gives a slot back, waking one waiting call if there is any.
    fn give_back(&self) {
        // SeqCst pairs with `wait`: either the waiter's re-check sees this
        // slot free, or this load sees the waiter registered.
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.freed.notify_one();
        }
    }

    /// Waits until a slot is taken (the caller bounds the wait).
    async fn wait(&self) {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _registered = Registered(self);
        loop {
            let notified = self.freed.notified();
            tokio::pin!(notified);
            // Registered before the re-check: a slot freed after it wakes us.
            notified.as_mut().enable();
            if self.try_take() {
                return;
            }
            notified.await;
            if self.try_take() {
                return;
            }
        }
    }
}

/// Unregisters a waiting call however its wait ends (slot, timeout, drop).
struct Registered<'a>(&'a Slots);

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A taken slot, given back when dropped.
#[derive(Debug)]
struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.give_back();
    }
}

/// Limits calls in flight. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct ConcurrencyLimitLayer {
    slots: Arc<Slots>,
    max_wait: Duration,
}

impl ConcurrencyLimitLayer {
    /// At most `limit` calls in flight (shared by every service this layer
    /// builds); wait at most `max_wait` for a slot. `0` turns the limit off,
    /// as `grpc.server.concurrency_limit = 0` does on the server.
    pub fn new(limit: usize, max_wait: Duration) -> Self {
        Self {
            slots: Arc::new(Slots {
                limit: if limit == 0 { usize::MAX } else { limit },
                in_flight: AtomicUsize::new(0),
                waiting: AtomicUsize::new(0),
                freed: Notify::new(),
            }),
            max_wait,
        }
    }
}

impl<S> Layer<S> for ConcurrencyLimitLayer {
    type Service = ConcurrencyLimit<S>;
    fn layer(&self, inner: S) -> ConcurrencyLimit<S> {
        ConcurrencyLimit {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`ConcurrencyLimitLayer`] builds.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimit<S> {
    inner: S,
    layer: ConcurrencyLimitLayer,
}

impl<S> ConcurrencyLimit<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B> Service<Request<B>> for ConcurrencyLimit<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = RpcError;
    type Future = ResponseFuture<S::Future, S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| RpcError::from_boxed(e.into()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // Fast path: a free slot, no timer, no lock.
        if self.layer.slots.try_take() {
            return ResponseFuture {
                inner: Some(self.inner.call(request)),
                slot: Some(Slot(self.layer.slots.clone())),
                waiting: None,
            };
        }
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        let deadline = request.extensions().get::<CallDeadline>().map(|d| d.0);
        let waiting = Box::pin(async move {
            let mut until = crate::deadline::after(Instant::now(), layer.max_wait);
            let deadline_first = deadline.is_some_and(|d| d < until);
            if let Some(d) = deadline.filter(|_| deadline_first) {
                until = d;
            }
            let slot = match tokio::time::timeout_at(until.into(), layer.slots.wait()).await {
                Ok(()) => Slot(layer.slots.clone()),
                Err(_) if deadline_first => {
                    return Err(RpcError::deadline_exceeded(
                        "deadline passed while waiting for a free slot of the client's \
                         concurrency limit; not sent",
                    ));
                }
                Err(_) => {
                    return Err(RpcError::Overloaded(tonic::Status::resource_exhausted(
                        format!(
                            "client concurrency limit of {} calls in flight was full for {:?}; \
                         not sent",
                            layer.slots.limit, layer.max_wait
                        ),
                    )));
                }
            };
            let result = ready
                .call(request)
                .await
                .map_err(|e| RpcError::from_boxed(e.into()));
            drop(slot);
            result
        });
        ResponseFuture {
            inner: None,
            slot: None,
            waiting: Some(waiting),
        }
    }
}

/// A call that waits for a slot (rare: the limit is full), boxed.
type Waiting<T> = Pin<Box<dyn Future<Output = Result<T, RpcError>> + Send>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_freed_slot_goes_to_each_waiting_call() {
        let slots = Arc::new(Slots {
            limit: 2,
            in_flight: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            freed: Notify::new(),
        });
        assert!(slots.try_take() && slots.try_take());
        assert!(!slots.try_take(), "full at the limit");
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let slots = slots.clone();
                tokio::spawn(async move { slots.wait().await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Two slots freed back to back: both waiting calls must get one.
        slots.give_back();
        slots.give_back();
        for w in waiters {
            tokio::time::timeout(Duration::from_secs(5), w)
                .await
                .expect("each waiting call gets a freed slot")
                .unwrap();
        }
        assert_eq!(slots.in_flight.load(Ordering::SeqCst), 2);
        assert_eq!(slots.waiting.load(Ordering::SeqCst), 0);
    }
}
