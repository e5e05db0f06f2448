//! What an upstream sent, checked before tonic reads it: a peer's bytes fail
//! at most the one call they belong to — never panic the caller's handler,
//! never take the shared connection down, never count against the endpoint.
//!
//! [`Sanitize`] sits right above one endpoint's connection (below
//! [`eject`](super::eject)) and, for each response:
//! - fails the call with `RESOURCE_EXHAUSTED` when its headers or trailers
//!   are larger than `max_response_metadata_size` (default 64 KiB). The
//!   connection itself accepts header blocks up to [`TRANSPORT_METADATA_LIMIT`]
//!   (16 MiB, grpc-go's client default): h2 answers a larger block by
//!   resetting the stream or, past its flood limits, by closing the
//!   connection, so the per-call bound has to be enforced here, well below
//!   h2's. `RESOURCE_EXHAUSTED` says nothing about the endpoint's health, so
//!   ejection does not count it;
//! - drops a `grpc-status-details-bin` that is not base64: tonic 0.14 panics
//!   parsing one (`Status::from_header_map`, `expect`), which would fail the
//!   caller's handler with INTERNAL instead of the upstream's status;
//! - counts the attempt in `rpc_client_attempts_total` once its status is
//!   known — in the headers (trailers-only answers), in the trailers, or
//!   INTERNAL for a message tonic could not decode — instead of `OK` for
//!   every answer whose status comes later than its headers.
//!
//! ```
//! # async fn demo() {
//! use boost_rpc::client::sanitize::SanitizeLayer;
//! use tower::Layer;
//!
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50052").connect_lazy();
//! let checked = SanitizeLayer::new(64 * 1024).layer(channel);
//! # let _ = checked;
//! # }
//! ```

mod attempt;
mod body;
pub mod future;
mod metadata;

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tonic::body::Body;
use tower::{Layer, Service};

use self::attempt::Attempt;
pub(crate) use self::body::Framing;
use self::future::ResponseFuture;
use super::metrics::EndpointMetrics;
use crate::RpcError;

/// The largest header block the HTTP/2 connection accepts (its
/// `SETTINGS_MAX_HEADER_LIST_SIZE`): grpc-go's client default, 16 MiB, or
/// the configured `max_response_metadata_size` if larger. hyper's own
/// default (16 KiB) makes h2 reset any call with more and, past ~5 frames of
/// it, close the whole connection (a CONTINUATION flood): one caller's large
/// error would fail everyone's calls.
pub const TRANSPORT_METADATA_LIMIT: u32 = 16 << 20;

/// Builds [`Sanitize`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SanitizeLayer {
    max_metadata: usize,
    metrics: Option<Arc<EndpointMetrics>>,
}

impl SanitizeLayer {
    /// Responses with at most `max_metadata` bytes of headers, and of
    /// trailers (counted as HTTP/2 does: name + value + 32 per entry). Used
    /// alone, it records no metrics (a client's endpoints do).
    pub const fn new(max_metadata: usize) -> Self {
        Self {
            max_metadata,
            metrics: None,
        }
    }

    /// The same, counting attempts into `metrics`.
    pub(crate) fn with_metrics(max_metadata: usize, metrics: EndpointMetrics) -> Self {
        Self {
            max_metadata,
            metrics: Some(Arc::new(metrics)),
        }
    }
}

impl<S> Layer<S> for SanitizeLayer {
    type Service = Sanitize<S>;
    fn layer(&self, inner: S) -> Sanitize<S> {
        Sanitize {
            inner,
            max_metadata: self.max_metadata,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`SanitizeLayer`] builds. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Sanitize<S> {
    inner: S,
    max_metadata: usize,
    metrics: Option<Arc<EndpointMetrics>>,
}

impl<S> Sanitize<S> {
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

impl<S, B> Service<Request<B>> for Sanitize<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = RpcError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| RpcError::from_boxed(e.into()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let attempt = Attempt::new(self.metrics.as_ref(), super::method_of(request.uri()));
        ResponseFuture {
            inner: self.inner.call(request),
            max_metadata: self.max_metadata,
            attempt: Some(attempt),
        }
    }
}
