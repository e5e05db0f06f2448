//! Per-key rate limits on a gRPC server (`[grpc.server.rate_limit]`): a call
//! whose key is over its rate gets `RESOURCE_EXHAUSTED` at once, with
//! `grpc-retry-pushback-ms` saying when it would conform, so kit clients
//! that retry `RESOURCE_EXHAUSTED` wait that long. The keys, buckets and
//! bounds are [`crate::rate_limit`]'s.
//!
//! gRPC health checks (`grpc.health.v1.Health`) are never limited: a
//! refused probe would restart a healthy server. Non-gRPC requests (an axum
//! router under [`stack`](super::stack)) get `429` with `Retry-After`.
//!
//! ```
//! use boost_rpc::rate_limit::RateLimitSettings;
//! use boost_rpc::server::rate_limit::RateLimitLayer;
//! use tower::Layer;
//!
//! # async fn demo() {
//! let settings = RateLimitSettings::default().by_header("x-tenant").with_rate(50, 100);
//! let handler = tower::service_fn(|_: http::Request<()>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(tonic::body::Body::empty()))
//! });
//! let limited = RateLimitLayer::new("grpc", &settings).layer(handler);
//! # let _ = limited;
//! # }
//! ```

pub mod future;
mod layer;

use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response};
use tonic::Code;
use tower_service::Service;

use self::future::ResponseFuture;
pub use self::layer::RateLimitLayer;
use crate::client::retry::GRPC_RETRY_PUSHBACK_MS;
use crate::rate_limit::{RateLimits, Refused};
use crate::server::grpc;

/// The path prefix of gRPC health checks, never limited.
const HEALTH_SERVICE: &str = "/grpc.health.v1.Health/";

/// The service [`RateLimitLayer`] builds: refuses calls over their key's rate.
#[derive(Debug, Clone)]
pub struct RateLimit<S> {
    inner: S,
    limits: Option<RateLimits>,
}

impl<S> RateLimit<S> {
    /// `inner` under `limits` (`None`: no limit).
    pub const fn new(inner: S, limits: Option<RateLimits>) -> Self {
        Self { inner, limits }
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if let Some(limits) = &self.limits
            && !req.uri().path().starts_with(HEALTH_SERVICE)
            && let Err(refused) = limits.check(limits.key_of(&req))
        {
            tracing::debug!(
                method = grpc::method_of(&req),
                bucket = refused.bucket.as_str(),
                retry_after_ms = refused.retry_after.as_millis() as u64,
                "rate limited: the caller's key is over its rate"
            );
            return ResponseFuture::refused(Refusal::new(grpc::is_grpc(&req), limits, refused));
        }
        ResponseFuture::called(self.inner.call(req))
    }
}

/// What a call over its rate is answered, built when the future is polled.
#[derive(Debug)]
pub(crate) struct Refusal {
    grpc: bool,
    millis: u64,
    message: String,
}

impl Refusal {
    fn new(grpc: bool, limits: &RateLimits, refused: Refused) -> Self {
        let millis = u64::try_from(refused.retry_after.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let message = format!(
            "rate limit of {}/s exceeded for this caller ({} bucket); retry in {millis} ms",
            limits.per_second(),
            refused.bucket.as_str()
        );
        Self {
            grpc,
            millis,
            message,
        }
    }

    /// `RESOURCE_EXHAUSTED` with `grpc-retry-pushback-ms`, or `429` with
    /// `Retry-After` (whole seconds, rounded up) for a non-gRPC request.
    fn into_response<B: Default>(self) -> Response<B> {
        let mut res = grpc::error_response(self.grpc, Code::ResourceExhausted, &self.message);
        let hint = if self.grpc {
            (GRPC_RETRY_PUSHBACK_MS, HeaderValue::from(self.millis))
        } else {
            (
                http::header::RETRY_AFTER.as_str(),
                HeaderValue::from(self.millis.div_ceil(1000)),
            )
        };
        res.headers_mut().insert(hint.0, hint.1);
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::RateLimitSettings;
    use tower::{Layer, ServiceExt};

    fn call(
        layer: &RateLimitLayer,
        path: &str,
        tenant: Option<&str>,
    ) -> Response<tonic::body::Body> {
        let svc = layer.layer(tower::service_fn(|_req: Request<()>| async {
            Ok::<_, std::convert::Infallible>(Response::new(tonic::body::Body::empty()))
        }));
        let mut req = Request::post(path).body(()).unwrap();
        req.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/grpc"));
        if let Some(tenant) = tenant {
            req.headers_mut()
                .insert("x-tenant", HeaderValue::from_str(tenant).unwrap());
        }
        futures::executor::block_on(svc.oneshot(req)).unwrap()
    }

    fn status(res: &Response<tonic::body::Body>) -> Option<&str> {
        res.headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
    }

    #[test]
    fn over_its_rate_a_call_gets_resource_exhausted_with_pushback_and_health_passes() {
        let settings = RateLimitSettings::default()
            .by_header("x-tenant")
            .with_rate(1, 1);
        let layer = RateLimitLayer::new("test", &settings);
        let method = "/hello.v1.Greeter/SayHello";
        assert_eq!(status(&call(&layer, method, Some("a"))), None);
        let refused = call(&layer, method, Some("a"));
        assert_eq!(status(&refused), Some("8"), "RESOURCE_EXHAUSTED");
        let pushback: u64 = refused.headers()[GRPC_RETRY_PUSHBACK_MS]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=1000).contains(&pushback), "{pushback}");
        assert_eq!(status(&call(&layer, method, Some("b"))), None);
        for _ in 0..5 {
            let health = call(&layer, "/grpc.health.v1.Health/Check", Some("a"));
            assert_eq!(status(&health), None, "health is never limited");
        }
    }

    #[test]
    fn off_limits_nothing() {
        let layer = RateLimitLayer::new("test", &RateLimitSettings::default());
        for _ in 0..500 {
            assert_eq!(status(&call(&layer, "/a.B/C", None)), None);
        }
    }
}
