//! Outlier ejection: an endpoint that keeps failing is taken out of rotation
//! for a while, then readmitted by one successful probe.
//!
//! [`Eject`] wraps the service of *one* endpoint and records every attempt's
//! outcome into that endpoint's [`Health`]. Used alone it fails fast with
//! UNAVAILABLE while the endpoint is out; under the balancer
//! ([`crate::client::balance`]) ejected endpoints are simply not picked, and
//! when more than `max_ejected_percent` are out the balancer sets
//! [`IgnoreEjection`] on the request (panic mode) so traffic still flows.
//!
//! ```
//! # async fn demo() {
//! use std::sync::Arc;
//! use boost_rpc::client::eject::{EjectLayer, Health};
//! use boost_rpc::client::ClientSettings;
//! use tower::Layer;
//!
//! let settings = ClientSettings::default();
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50052").connect_lazy();
//! let health = Arc::new(Health::new(settings.ejection, settings.reconnect, None));
//! let endpoint = EjectLayer::new(health.clone()).layer(channel);
//! # let _ = endpoint;
//! # }
//! ```

mod health;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use tonic::Code;
use tower::{Layer, Service};

pub use health::{Admission, Health, Outcome};

use super::metrics::AttemptRecorder;
use crate::RpcError;
use crate::status_code::grpc_status;

/// Request extension set by the balancer in panic mode: send even if ejected.
#[derive(Debug, Clone, Copy, Default)]
pub struct IgnoreEjection;

/// Wraps one endpoint's service with outlier ejection. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct EjectLayer {
    health: Arc<Health>,
}

impl EjectLayer {
    /// Records outcomes into `health`.
    pub const fn new(health: Arc<Health>) -> Self {
        Self { health }
    }
}

impl<S> Layer<S> for EjectLayer {
    type Service = Eject<S>;
    fn layer(&self, inner: S) -> Eject<S> {
        Eject::new(inner, self.health.clone())
    }
}

/// The service [`EjectLayer`] builds.
#[derive(Debug, Clone)]
pub struct Eject<S> {
    inner: S,
    health: Arc<Health>,
}

impl<S> Eject<S> {
    /// Wraps `inner`, recording into `health`.
    pub const fn new(inner: S, health: Arc<Health>) -> Self {
        Self { inner, health }
    }
    /// This endpoint's health.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }
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

/// Whether a status says the endpoint itself is failing.
pub fn is_endpoint_failure(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::Internal | Code::Unknown | Code::DataLoss
    )
}

impl<S, B, R> Service<Request<B>> for Eject<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send + 'static,
    R: Send + 'static,
{
    type Response = Response<R>;
    type Error = RpcError;
    type Future = EjectFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| RpcError::from_boxed(e.into()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let ignore = request.extensions().get::<IgnoreEjection>().is_some();
        let admission = match self.health.admit_now(ignore) {
            Ok(a) => a,
            Err(why) => {
                return EjectFuture {
                    inner: None,
                    refused: Some(RpcError::unavailable_unsent(format!("endpoint {why}"))),
                    guard: None,
                };
            }
        };
        let guard = ProbeGuard {
            health: self.health.clone(),
            sent_at: super::call_now(),
            admission,
            done: false,
            attempts: self
                .health
                .metrics()
                .map(|m| m.attempt_recorder(request.uri().path().trim_start_matches('/'))),
        };
        EjectFuture {
            inner: Some(self.inner.call(request)),
            refused: None,
            guard: Some(guard),
        }
    }
}

pin_project_lite::pin_project! {
    /// Response future of [`Eject`]: records the attempt's outcome in the
    /// endpoint's health (a concrete future: nothing boxed per call).
    pub struct EjectFuture<F> {
        #[pin]
        inner: Option<F>,
        refused: Option<RpcError>,
        guard: Option<ProbeGuard>,
    }
}

impl<F, R, E> Future for EjectFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<Response<R>, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(Err(this.refused.take().unwrap_or_else(|| {
                RpcError::unavailable_unsent("endpoint refused the attempt")
            })));
        };
        let result = std::task::ready!(inner.poll(cx)).map_err(|e| RpcError::from_boxed(e.into()));
        if let Some(mut guard) = this.guard.take() {
            let code = match &result {
                Ok(response) => grpc_status(response.headers()).unwrap_or(Code::Ok),
                Err(e) => e.code(),
            };
            let outcome = match &result {
                Err(e) if e.is_unsent() => Outcome::ConnectFailure,
                _ if is_endpoint_failure(code) => Outcome::Failure,
                _ => Outcome::Success,
            };
            guard.done = true;
            guard.record_attempt(code);
            // A success of a ready endpoint only needs a time within the
            // current window: the time of sending serves, no clock read.
            let now = if outcome == Outcome::Success && guard.admission == Admission::Ready {
                guard.sent_at
            } else {
                Instant::now()
            };
            guard.health.record(outcome, guard.admission, now);
        }
        Poll::Ready(result)
    }
}

/// Counts the attempt, and releases an unfinished probe when its attempt is
/// dropped (deadline, cancel).
struct ProbeGuard {
    health: Arc<Health>,
    sent_at: Instant,
    admission: Admission,
    done: bool,
    attempts: Option<AttemptRecorder>,
}

impl ProbeGuard {
    fn record_attempt(&self, code: Code) {
        if let (Some(attempts), Some(endpoint)) = (&self.attempts, self.health.metrics()) {
            attempts.record(endpoint, code);
        }
    }
}

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        if !self.done {
            self.record_attempt(Code::Cancelled);
            if self.admission == Admission::Probe {
                self.health.release_probe();
            }
        }
    }
}
