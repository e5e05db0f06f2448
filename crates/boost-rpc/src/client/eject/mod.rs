//! Outlier ejection: an endpoint that keeps failing is taken out of rotation
//! for a while, then readmitted by one successful probe.
//!
//! [`Eject`] wraps the service of *one* endpoint and records every attempt's
//! outcome into that endpoint's health: consecutive failures, success rate,
//! failed connects (see `EjectionSettings` and `ReconnectSettings` for the
//! rules). Used alone it fails fast with UNAVAILABLE while the endpoint is
//! out ([`Eject::state`] says why it is); in a [`Client`](super::Client)
//! ejected endpoints are simply not picked by the [`balance`](super::balance)r,
//! and when more than `max_ejected_percent` are out the balancer sends to them
//! anyway (panic mode) so traffic still flows.
//!
//! ```
//! # async fn demo() {
//! use boost_rpc::client::eject::EjectLayer;
//! use boost_rpc::client::{EjectionSettings, EndpointState, ReconnectSettings};
//! use tower::Layer;
//!
//! let layer = EjectLayer::new(&EjectionSettings::default(), &ReconnectSettings::default());
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50052").connect_lazy();
//! let endpoint = layer.layer(channel);
//! assert_eq!(endpoint.state(), EndpointState::Ready);
//! # }
//! ```

pub mod future;
mod health;

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use tonic::Code;
use tower::{Layer, Service};

pub(crate) use self::health::{Admission, Health, Outcome};

use self::future::ResponseFuture;
use super::metrics::EndpointState;
use super::settings::{EjectionSettings, ReconnectSettings};
use crate::RpcError;
#[cfg(test)]
use crate::status_code::grpc_status;

/// Request extension set by the balancer in panic mode: send even if ejected.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct IgnoreEjection;

/// Wraps one endpoint's service with outlier ejection. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct EjectLayer {
    ejection: EjectionSettings,
    reconnect: ReconnectSettings,
}

impl EjectLayer {
    /// Ejects by `ejection`'s rules and waits out `reconnect`'s backoff
    /// after a failed connect. The values are used as given (check them
    /// with `boost_config::Problems::of` first); each service this layer
    /// builds is one endpoint with a health of its own. Used alone, it
    /// records no metrics (a client's endpoints do).
    pub fn new(ejection: &EjectionSettings, reconnect: &ReconnectSettings) -> Self {
        Self {
            ejection: ejection.clone(),
            reconnect: reconnect.clone(),
        }
    }
}

impl<S> Layer<S> for EjectLayer {
    type Service = Eject<S>;
    fn layer(&self, inner: S) -> Eject<S> {
        let health = Health::new(self.ejection.clone(), self.reconnect.clone(), None);
        Eject::new(inner, Arc::new(health))
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
    pub(crate) const fn new(inner: S, health: Arc<Health>) -> Self {
        Self { inner, health }
    }
    /// Whether the endpoint takes attempts now, is ejected, or waits to
    /// reconnect.
    pub fn state(&self) -> EndpointState {
        self.health.state()
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
pub(crate) fn is_endpoint_failure(code: Code) -> bool {
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
    type Future = ResponseFuture<S::Future>;

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
                return ResponseFuture {
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
        };
        ResponseFuture {
            inner: Some(self.inner.call(request)),
            refused: None,
            guard: Some(guard),
        }
    }
}

/// Releases an unfinished probe when its attempt is dropped (deadline,
/// cancel). Attempts are counted below, by `sanitize`, which sees their
/// status when it arrives (often in the trailers, after this layer is done).
struct ProbeGuard {
    health: Arc<Health>,
    sent_at: Instant,
    admission: Admission,
    done: bool,
}

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        if !self.done && self.admission == Admission::Probe {
            self.health.release_probe();
        }
    }
}

#[cfg(test)]
mod tests {
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn alone_each_endpoint_has_its_own_health_and_fails_fast_once_ejected() {
        let failing = tower::service_fn(|_: Request<()>| async {
            Ok::<_, RpcError>(tonic::Status::unavailable("down").into_http::<()>())
        });
        let healthy =
            tower::service_fn(|_: Request<()>| async { Ok::<_, RpcError>(Response::new(())) });
        let layer = EjectLayer::new(&EjectionSettings::default(), &ReconnectSettings::default());
        let mut bad = layer.layer(failing);
        let good = layer.layer(healthy);
        for _ in 0..5 {
            let response = bad
                .ready()
                .await
                .unwrap()
                .call(Request::new(()))
                .await
                .unwrap();
            assert_eq!(grpc_status(response.headers()), Some(Code::Unavailable));
        }
        assert_eq!(bad.state(), EndpointState::Ejected);
        assert_eq!(good.state(), EndpointState::Ready, "health is per endpoint");
        let refused = bad.oneshot(Request::new(())).await.unwrap_err();
        assert!(refused.is_unsent(), "{refused}");
        assert!(refused.to_string().contains("ejected"), "{refused}");
    }
}
