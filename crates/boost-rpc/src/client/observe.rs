//! Observability of each logical call (retries included): one client span,
//! one duration sample, trace context and request id sent upstream.
//!
//! - **span** `rpc.client` (OTel name = the method, e.g. `hello.v1.Greeter/SayHello`)
//!   with the RPC semantic-convention attributes `rpc.system = "grpc"`,
//!   `rpc.service`, `rpc.method`, `rpc.grpc.status_code`, `server.address`
//!   (the last endpoint tried) and `otel.kind = "client"`. Retries appear as
//!   events inside it.
//! - **metric** `rpc_client_call_duration_seconds{rpc_system_name, rpc_method,
//!   rpc_status_code, client}`, recorded when the status is known: at the
//!   response headers for a trailers-only answer, else at the trailers.
//! - **propagation**: W3C `traceparent`/`tracestate`/`baggage` of the client
//!   span, and `x-request-id` (kept if the caller set it, generated otherwise).
//!
//! ```
//! use boost_rpc::client::observe::ObserveLayer;
//! use boost_rpc::client::ClientMetrics;
//! use tower::Layer;
//!
//! # async fn demo() {
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50052").connect_lazy();
//! let observed = ObserveLayer::new(ClientMetrics::new("profiles")).layer(channel);
//! # let _ = observed;
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use boost_tracing::OpenTelemetrySpanExt;
use http::{HeaderValue, Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::body::Body;
use tonic::codegen::Bytes;
use tonic::{Code, Status};
use tower::{Layer, Service};
use tracing::Instrument;
use tracing::field::Empty;

use super::metrics::{CallRecorder, ClientMetrics};
use super::{grpc_status, method_of};
use crate::RpcError;

/// The request id metadata key.
pub const REQUEST_ID: &str = "x-request-id";

// Pre-parsed: a `&str` key is re-validated on every lookup.
const REQUEST_ID_NAME: http::HeaderName = http::HeaderName::from_static(REQUEST_ID);

/// Adds spans, metrics and propagation. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    metrics: Arc<ClientMetrics>,
}

impl ObserveLayer {
    /// Records into `metrics` (which carries the client name).
    pub const fn new(metrics: Arc<ClientMetrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`ObserveLayer`] builds.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Arc<ClientMetrics>,
}

impl<S> Observe<S> {
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

impl<S> Service<Request<Body>> for Observe<S>
where
    S: Service<Request<Body>, Response = Response<Body>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = RpcError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, RpcError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| RpcError::from_boxed(e.into()))
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let start = Instant::now();
        if !request.headers().contains_key(&REQUEST_ID_NAME) {
            request
                .headers_mut()
                .insert(REQUEST_ID_NAME, new_request_id());
        }
        let method = method_of(request.uri());
        let recorder = self.metrics.call_recorder(method);
        let (service, short) = method.split_once('/').unwrap_or(("", method));
        let span = tracing::info_span!(
            "rpc.client",
            otel.name = method,
            otel.kind = "client",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = short,
            rpc.grpc.status_code = Empty,
            server.address = Empty,
            client = self.metrics.client(),
            request_id = request
                .headers()
                .get(&REQUEST_ID_NAME)
                .and_then(|v| v.to_str().ok()),
        );
        if !span.is_disabled() {
            boost_tracing::propagation::inject_headers(&span.context(), request.headers_mut());
        }
        let fut = self.inner.call(request).instrument(span.clone());
        let record = CallRecord {
            recorder,
            start,
            span,
        };
        Box::pin(async move {
            match fut.await {
                Ok(response) => match grpc_status(response.headers()) {
                    Some(code) => {
                        record.finish(code);
                        Ok(response)
                    }
                    None => Ok(response.map(|body| {
                        Body::new(ObservedBody {
                            inner: body,
                            record: Some(record),
                        })
                    })),
                },
                Err(e) => {
                    let e = RpcError::from_boxed(e.into());
                    record.finish(e.code());
                    Err(e)
                }
            }
        })
    }
}

/// 128 random bits as 32 hex digits.
fn new_request_id() -> HeaderValue {
    let id: u128 = rand::random();
    let mut buf = [0u8; 32];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in buf.iter_mut().enumerate() {
        *b = HEX[((id >> (124 - 4 * i)) & 0xf) as usize];
    }
    let mut value =
        HeaderValue::from_bytes(&buf).unwrap_or_else(|_| HeaderValue::from_static("unknown"));
    // Never-indexed: unique per call, it would only churn the HPACK tables.
    value.set_sensitive(true);
    value
}

/// What is needed to record a call once its status is known.
struct CallRecord {
    recorder: CallRecorder,
    start: Instant,
    span: tracing::Span,
}

impl CallRecord {
    fn finish(self, code: Code) {
        self.recorder
            .record(code, self.start.elapsed().as_secs_f64());
        self.span.record("rpc.grpc.status_code", code as i64);
        if code != Code::Ok {
            self.span.record("otel.status_code", "ERROR");
        }
    }
}

/// A response body that records the call when its trailers arrive.
struct ObservedBody {
    inner: Body,
    record: Option<CallRecord>,
}

impl HttpBody for ObservedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let code = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame
                .trailers_ref()
                .map(|t| grpc_status(t).unwrap_or(Code::Unknown)),
            Poll::Ready(Some(Err(status))) => Some(status.code()),
            Poll::Ready(None) => Some(Code::Unknown),
            Poll::Pending => None,
        };
        if let Some(code) = code
            && let Some(record) = self.record.take()
        {
            record.finish(code);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ObservedBody {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            record.finish(Code::Cancelled);
        }
    }
}
