//! The server span and `http_server_request_duration_seconds` of a request.
//!
//! One span per request, named `METHOD /route` (just `METHOD` when no route
//! matched, as OpenTelemetry's HTTP conventions say), the child of the
//! caller's span when the request carries W3C `traceparent`. The handler runs
//! inside it, so its log lines carry `trace_id` and `span_id`, and boost-rpc
//! and boost-http clients called from it continue the trace.
//!
//! | field | value |
//! |---|---|
//! | `otel.name` | `GET /v1/hello/{name}` |
//! | `otel.kind` | `server` |
//! | `http.request.method` | `GET` (or `_OTHER`) |
//! | `http.route` | `/v1/hello/{name}` (absent when unmatched) |
//! | `http.response.status_code` | `200`, set when the response head is ready |
//! | `request_id` | the request's `x-request-id` |
//! | `otel.status_code` | `ERROR` for a `5xx` |

use std::sync::OnceLock;
use std::time::Instant;

use boost_metrics::conventions::{
    HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE, HTTP_SERVER_REQUEST_DURATION,
};
use boost_rpc::server::RequestId;
use boost_tracing::OpenTelemetrySpanExt;
use http::{Request, StatusCode};
use metrics::Histogram;
use opentelemetry::trace::TraceContextExt;
use tracing::Span;
use tracing::field::Empty;

use crate::handles::HistogramTable;

/// Opens the server span of `req`, parented to the caller's trace if it sent one.
pub(crate) fn server_span<B>(req: &Request<B>, method: &str, route: Option<&str>) -> Span {
    if !crate::span_level::info_may_listen() {
        return Span::none();
    }
    let span = tracing::info_span!(
        "http.server",
        otel.name = Empty,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = route,
        http.response.status_code = Empty,
        request_id = Empty,
    );
    if span.is_disabled() {
        // `none()`, not the disabled span: with tracing's `log` feature on and
        // no subscriber set, a disabled span still formats a `log` record on
        // every enter, exit and drop; `none()` has nothing to log.
        return Span::none();
    }
    match route {
        Some(route) => span.record("otel.name", format!("{method} {route}")),
        None => span.record("otel.name", method),
    };
    if let Some(id) = req.extensions().get::<RequestId>() {
        span.record("request_id", id.as_str());
    }
    let parent = boost_tracing::propagation::extract_headers(req.headers());
    if parent.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed: there is then
        // no trace to join.
        let _ = span.set_parent(parent);
    }
    span
}

/// The histogram handles of one route (one endpoint of the router: axum
/// applies the layer to each), found without a lock or an allocation.
#[derive(Debug)]
pub(crate) struct Handles {
    /// The route of the first request recorded; others take the slow path.
    route: OnceLock<Option<String>>,
    table: HistogramTable,
}

impl Handles {
    pub(crate) fn new() -> Self {
        Handles {
            route: OnceLock::new(),
            table: HistogramTable::new(),
        }
    }

    /// Whether requests on `route` may use the kept handles.
    fn keeps(&self, route: Option<&str>) -> bool {
        let first = self.route.get_or_init(|| route.map(str::to_owned));
        first.as_deref() == route
    }
}

fn histogram(method: &'static str, route: &str, status: StatusCode) -> Histogram {
    metrics::histogram!(
        HTTP_SERVER_REQUEST_DURATION,
        HTTP_REQUEST_METHOD => method,
        HTTP_ROUTE => route.to_owned(),
        HTTP_RESPONSE_STATUS_CODE => status.as_str().to_owned(),
    )
}

/// Records the end of a request: the status on its span and its duration.
pub(crate) fn record(
    handles: &Handles,
    span: &Span,
    start: Instant,
    method: &'static str,
    route: Option<&str>,
    status: StatusCode,
) {
    if !span.is_disabled() {
        span.record("http.response.status_code", i64::from(status.as_u16()));
        if status.is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let label = super::labels::route_label(route);
    let make = || histogram(method, label, status);
    if handles.keeps(route) {
        handles.table.record(method, status.as_u16(), seconds, make);
    } else {
        make().record(seconds);
    }
}
