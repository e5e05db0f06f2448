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

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::Request;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service};

use super::deadline::CallDeadline;
use crate::RpcError;

/// Limits calls in flight. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct ConcurrencyLimitLayer {
    semaphore: Arc<Semaphore>,
    limit: usize,
    max_wait: Duration,
}

impl ConcurrencyLimitLayer {
    /// At most `limit` calls in flight (shared by every service this layer
    /// builds); wait at most `max_wait` for a slot.
    pub fn new(limit: usize, max_wait: Duration) -> Self {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            semaphore: Arc::new(Semaphore::new(limit)),
            limit,
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
    type Future = LimitFuture<S::Future, S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| RpcError::from_boxed(e.into()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // Fast path: a free slot, no timer.
        if let Ok(permit) = self.layer.semaphore.clone().try_acquire_owned() {
            return LimitFuture {
                inner: Some(self.inner.call(request)),
                permit: Some(permit),
                waiting: None,
            };
        }
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        let deadline = request.extensions().get::<CallDeadline>().map(|d| d.0);
        let waiting = Box::pin(async move {
            let acquire = layer.semaphore.clone().acquire_owned();
            let mut until = Instant::now() + layer.max_wait;
            let deadline_first = deadline.is_some_and(|d| d < until);
            if let Some(d) = deadline.filter(|_| deadline_first) {
                until = d;
            }
            let permit = match tokio::time::timeout_at(until.into(), acquire).await {
                Ok(Ok(permit)) => permit,
                _ if deadline_first => {
                    return Err(RpcError::deadline_exceeded(
                        "deadline passed while waiting for a free slot of the client's \
                         concurrency limit; not sent",
                    ));
                }
                _ => {
                    return Err(RpcError::Overloaded(tonic::Status::resource_exhausted(
                        format!(
                            "client concurrency limit of {} calls in flight was full for {:?}; \
                         not sent",
                            layer.limit, layer.max_wait
                        ),
                    )));
                }
            };
            let result = ready
                .call(request)
                .await
                .map_err(|e| RpcError::from_boxed(e.into()));
            drop(permit);
            result
        });
        LimitFuture {
            inner: None,
            permit: None,
            waiting: Some(waiting),
        }
    }
}

/// A call that waits for a slot (rare: the limit is full), boxed.
type Waiting<T> = Pin<Box<dyn Future<Output = Result<T, RpcError>> + Send>>;

pin_project_lite::pin_project! {
    /// Response future of [`ConcurrencyLimit`]: holds the slot until the
    /// response arrives. A call that got a slot at once is not boxed.
    pub struct LimitFuture<F, T> {
        #[pin]
        inner: Option<F>,
        permit: Option<OwnedSemaphorePermit>,
        waiting: Option<Waiting<T>>,
    }
}

impl<F, T, E> Future for LimitFuture<F, T>
where
    F: Future<Output = Result<T, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<T, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(inner) = this.inner.as_pin_mut() {
            let result = std::task::ready!(inner.poll(cx));
            this.permit.take();
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
