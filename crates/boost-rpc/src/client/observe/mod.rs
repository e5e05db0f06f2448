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
//!   span, and `x-request-id`: kept if the caller set it, else the id of the
//!   inbound call being served ([`current_request_id`](crate::server::current_request_id)),
//!   so one id follows a request across services; generated otherwise.
//!
//! ```
//! use boost_rpc::client::observe::ObserveLayer;
//! use tower::Layer;
//!
//! # async fn demo() {
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50052").connect_lazy();
//! let observed = ObserveLayer::new("profiles").layer(channel);
//! # let _ = observed;
//! # }
//! ```

mod body;
pub mod future;

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use boost_tracing::OpenTelemetrySpanExt;
use http::header::Entry;
use http::{HeaderValue, Request, Response};
use tonic::Code;
use tonic::body::Body;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing::field::Empty;

pub use self::body::ResponseBody;
use self::future::ResponseFuture;
use super::metrics::{CallRecorder, ClientMetrics};
use super::{method_of, with_call_start};
use crate::RpcError;
use crate::server::RequestId;
use crate::server::request_id::HEADER as REQUEST_ID;

/// Adds spans, metrics and propagation. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    metrics: Arc<ClientMetrics>,
}

impl ObserveLayer {
    /// Records the calls of the client named `client` (the `client` label
    /// of `rpc_client_call_duration_seconds` and the `client` span field).
    pub fn new(client: &str) -> Self {
        Self::with_metrics(ClientMetrics::new(client))
    }

    /// Records into a client's metric handles.
    pub(crate) const fn with_metrics(metrics: Arc<ClientMetrics>) -> Self {
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
    type Response = Response<ResponseBody>;
    type Error = RpcError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| RpcError::from_boxed(e.into()))
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let start = Instant::now();
        // One hashed lookup of the name, and the id kept at hand for the span
        // (a clone shares the id's bytes; a second lookup would hash again).
        let request_id = match request.headers_mut().entry(REQUEST_ID) {
            Entry::Occupied(sent) => sent.get().clone(),
            Entry::Vacant(slot) => slot.insert(new_request_id()).clone(),
        };
        let method = method_of(request.uri());
        let recorder = self.metrics.call_recorder(method);
        // Split once, and only if a field is evaluated: values are evaluated
        // when the span is enabled (or, with tracing's `log` feature and no
        // subscriber, to log it).
        let split = std::cell::OnceCell::new();
        let split = || *split.get_or_init(|| method.split_once('/'));
        let span = if !crate::span_level::info_may_listen() {
            tracing::Span::none()
        } else {
            tracing::info_span!(
                "rpc.client",
                otel.name = method,
                otel.kind = "client",
                otel.status_code = Empty,
                rpc.system = "grpc",
                rpc.service = split().map_or("", |(service, _)| service),
                rpc.method = split().map_or(method, |(_, short)| short),
                rpc.grpc.status_code = Empty,
                server.address = Empty,
                client = self.metrics.client(),
                request_id = request_id.to_str().ok(),
            )
        };
        // With the client span filtered out (`boost_rpc=warn`) or not built,
        // the caller's span is current: its trace goes on. Without any
        // subscriber that context is empty and nothing is injected.
        let context = if span.is_disabled() {
            tracing::Span::current().context()
        } else {
            span.context()
        };
        boost_tracing::propagation::inject_headers(&context, request.headers_mut());
        // Entered around `call` too: inner layers record on it (the endpoint).
        // Inner layers read the time of the call from here (one clock read).
        let inner = span
            .in_scope(|| with_call_start(start, || self.inner.call(request)))
            .instrument(span.clone());
        ResponseFuture {
            inner,
            record: Some(CallRecord {
                recorder,
                start,
                span,
            }),
        }
    }
}

/// The id of the inbound call being served, so one id follows a request
/// through every service it touches; a fresh one outside a served call.
fn new_request_id() -> HeaderValue {
    let id = crate::server::current_request_id().unwrap_or_else(RequestId::generate);
    // Shares the id's buffer: the retry layer keeps a copy of the headers.
    let mut value = id.header_value().clone();
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
