//! One server span per call, joined to the caller's trace.
//!
//! [`TraceLayer`] reads the W3C trace context (`traceparent`, `tracestate`,
//! `baggage`) from the request headers — gRPC metadata travels as headers —
//! and opens a span that is the caller's span's child:
//!
//! | field | value |
//! |---|---|
//! | span name (`otel.name`) | `hello.v1.Greeter/SayHello` (the path without its slash) |
//! | `otel.kind` | `server` |
//! | `rpc.system` | `grpc` (`http` for non-gRPC requests) |
//! | `rpc.service` / `rpc.method` | `hello.v1.Greeter` / `SayHello` |
//! | `request_id` | the [`RequestId`], when [`SetRequestIdLayer`](super::request_id::SetRequestIdLayer) runs first |
//! | `peer.identity` | the caller's verified identity over mTLS: its first URI name (a SPIFFE ID), else its first DNS name, else its subject ([`boost_tls::PeerIdentity`] in the request extensions) |
//! | `tls.client.subject` | the subject of the caller's verified client certificate (`CN=…`) |
//! | `rpc.grpc.status_code` | the final status as a number (`0` = OK), set when the call ends |
//! | `otel.status_code` | `ERROR` when the status is a server fault (`INTERNAL`, `UNAVAILABLE`, `DEADLINE_EXCEEDED`, …) |
//!
//! The handler runs inside the span, so its log lines carry the span's
//! `trace_id` and `span_id`, and boost-rpc clients called from it propagate
//! the trace onwards. The span stays open until the response body ends, so its
//! duration is the whole call and its status the one the caller received; the
//! body is polled inside the span too, so the duration the metrics layer
//! records when the body ends carries the span's trace as its exemplar.

pub mod future;

use std::task::{Context, Poll};

use boost_tracing::OpenTelemetrySpanExt;
use http::{Request, Response};
use opentelemetry::trace::TraceContextExt;
use tonic::Code;
use tower_layer::Layer;
use tower_service::Service;
use tracing::Span;
use tracing::field::Empty;

use self::future::ResponseFuture;
use super::body::{ObservedBody, OnEnd, response_body};
use super::grpc;
use super::request_id::RequestId;
use super::served_methods::ServedMethods;

/// Layer that applies [`Trace`]. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct TraceLayer {
    served: ServedMethods,
}

impl TraceLayer {
    /// The layer.
    pub const fn new() -> Self {
        TraceLayer {
            served: ServedMethods::any(),
        }
    }

    /// Names spans after `served` methods only, every other path
    /// [`OTHER_METHOD`](super::served_methods::OTHER_METHOD) (see
    /// [`served_methods`](super::served_methods)).
    #[must_use]
    pub fn served_methods(mut self, served: ServedMethods) -> Self {
        self.served = served;
        self
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Trace {
            inner,
            served: self.served.clone(),
        }
    }
}

/// Runs each call inside a server span whose parent is the caller's span.
#[derive(Clone, Debug)]
pub struct Trace<S> {
    inner: S,
    served: ServedMethods,
}

impl<S> Trace<S> {
    /// Wraps `inner`.
    pub const fn new(inner: S) -> Self {
        Trace {
            inner,
            served: ServedMethods::any(),
        }
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Trace<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let span = server_span(&req, &self.served);
        let inner = if span.is_disabled() {
            self.inner.call(req)
        } else {
            span.in_scope(|| self.inner.call(req))
        };
        ResponseFuture {
            inner,
            span: Some(span),
        }
    }
}

/// Opens the server span for `req`, parented to the caller's span if it sent one.
fn server_span<B>(req: &Request<B>, served: &ServedMethods) -> Span {
    if !crate::span_level::info_may_listen() {
        return Span::none();
    }
    // Field values are only computed when the span is enabled (or, with
    // tracing's `log` feature and no subscriber, to log it); the label and
    // its split then once for the three fields.
    let label = std::cell::OnceCell::new();
    let label = || *label.get_or_init(|| served.label(grpc::method_of(req)));
    let split = std::cell::OnceCell::new();
    let split = || *split.get_or_init(|| split_method(label()));
    let span = tracing::info_span!(
        "rpc.server",
        otel.name = label(),
        otel.kind = "server",
        otel.status_code = Empty,
        rpc.system = if grpc::is_grpc(req) { "grpc" } else { "http" },
        rpc.service = split().0,
        rpc.method = split().1,
        rpc.grpc.status_code = Empty,
        request_id = Empty,
        peer.identity = Empty,
        tls.client.subject = Empty,
    );
    if span.is_disabled() {
        return span;
    }
    if let Some(id) = req.extensions().get::<RequestId>() {
        span.record("request_id", id.as_str());
    }
    if let Some(peer) = req.extensions().get::<boost_tls::PeerIdentity>() {
        span.record("peer.identity", peer.principal());
        if !peer.subject().is_empty() {
            span.record("tls.client.subject", peer.subject());
        }
    }
    let parent = boost_tracing::propagation::extract_headers(req.headers());
    if parent.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed; the span is then
        // a plain tracing span and there is no trace to join.
        let _ = span.set_parent(parent);
    }
    span
}

/// `("hello.v1.Greeter", "SayHello")` from `hello.v1.Greeter/SayHello`
/// (`("", "_OTHER")` from `_OTHER`).
fn split_method(full: &str) -> (&str, &str) {
    full.rsplit_once('/').unwrap_or(("", full))
}

response_body! {
    /// The response body of [`Trace`]: the handler's body, unchanged; the
    /// span ends (with the call's final status) when it ends or is dropped.
    ResponseBody => ObservedBody<B, SpanRecord>
}

/// The open server span of one call; records the final status and closes it.
#[derive(Debug)]
struct SpanRecord {
    span: Span,
}

impl OnEnd for SpanRecord {
    #[inline]
    fn poll_in_scope<R>(&self, poll: impl FnOnce() -> R) -> R {
        self.span.in_scope(poll)
    }

    fn on_end(self, code: Code) {
        self.span.record("rpc.grpc.status_code", code as i64);
        if grpc::is_server_error(code) {
            self.span.record("otel.status_code", "ERROR");
        }
    }
}
