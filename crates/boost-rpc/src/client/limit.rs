//! A concurrency limit with a bounded wait: at most `limit` calls in flight;
//! a call that cannot get a slot within `max_wait` fails at once with
//! RESOURCE_EXHAUSTED instead of queueing behind a stalled upstream.
//!
//! ```
//! use std::time::Duration;
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
use std::time::Duration;

use http::Request;
use tokio::sync::Semaphore;
use tower::{Layer, Service};

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
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, RpcError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| RpcError::from_boxed(e.into()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // Fast path: a free slot, no timer.
        if let Ok(permit) = self.layer.semaphore.clone().try_acquire_owned() {
            let fut = self.inner.call(request);
            return Box::pin(async move {
                let result = fut.await.map_err(|e| RpcError::from_boxed(e.into()));
                drop(permit);
                result
            });
        }
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let acquire = layer.semaphore.clone().acquire_owned();
            let permit = match tokio::time::timeout(layer.max_wait, acquire).await {
                Ok(Ok(permit)) => permit,
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
        })
    }
}
