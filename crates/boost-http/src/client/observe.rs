//! The client span and `http_client_request_duration_seconds` of a logical
//! request (all its attempts).

use std::sync::Arc;

use boost_metrics::conventions::{
    CLIENT, ERROR_TYPE, HTTP_CLIENT_REQUEST_DURATION, HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE, SERVER_ADDRESS, SERVER_PORT,
};
use http::StatusCode;
use tracing::Span;
use tracing::field::Empty;

use super::endpoints::Base;
use crate::handles::HistogramTable;

/// Opens the client span of a request (a child of the current span).
pub(crate) fn client_span(client: &str, method: &'static str) -> Span {
    if !crate::span_level::info_may_listen() {
        return Span::none();
    }
    let span = tracing::info_span!(
        "http.client",
        otel.name = method,
        otel.kind = "client",
        otel.status_code = Empty,
        client = %client,
        http.request.method = method,
        server.address = Empty,
        http.response.status_code = Empty,
        http.request.resend_count = Empty,
    );
    if span.is_disabled() {
        // `none()`, not the disabled span: with tracing's `log` feature on and
        // no subscriber set, a disabled span still formats a `log` record on
        // every enter, exit and drop.
        return Span::none();
    }
    span
}

/// The kept histogram handles of each base URL of a client, in the order of
/// its endpoints.
#[derive(Debug)]
pub(crate) struct Handles {
    per_base: Box<[HistogramTable]>,
}

impl Handles {
    pub(crate) fn new(bases: usize) -> Self {
        Handles {
            per_base: (0..bases).map(|_| HistogramTable::new()).collect(),
        }
    }

    /// Records an answered request's duration; `base` is the index of the
    /// base URL its last attempt went to.
    pub(crate) fn answered(
        &self,
        client: &str,
        method: &'static str,
        base: Option<(usize, &Base)>,
        status: StatusCode,
        seconds: f64,
    ) {
        let (address, port) = labels(base.map(|(_, base)| base));
        let make = || {
            metrics::histogram!(HTTP_CLIENT_REQUEST_DURATION,
                CLIENT => client.to_owned(),
                HTTP_REQUEST_METHOD => method,
                SERVER_ADDRESS => address,
                SERVER_PORT => port,
                HTTP_RESPONSE_STATUS_CODE => status.as_str().to_owned())
        };
        match base.and_then(|(index, _)| self.per_base.get(index)) {
            Some(table) => table.record(method, status.as_u16(), seconds, make),
            None => make().record(seconds),
        }
    }
}

/// Records the duration of a request that got no answer (through the
/// registry: errors are the slow path, and their labels are not kept).
pub(crate) fn failed(
    client: &str,
    method: &'static str,
    base: Option<&Base>,
    error_type: &'static str,
    seconds: f64,
) {
    let (address, port) = labels(base);
    metrics::histogram!(HTTP_CLIENT_REQUEST_DURATION,
            CLIENT => client.to_owned(),
            HTTP_REQUEST_METHOD => method,
            SERVER_ADDRESS => address,
            SERVER_PORT => port,
            ERROR_TYPE => error_type)
    .record(seconds);
}

/// The `server_address` and `server_port` values: the base URL's (configured,
/// so the labels stay bounded), empty when no attempt was made.
fn labels(base: Option<&Base>) -> (Arc<str>, Arc<str>) {
    match base {
        Some(base) => (
            Arc::clone(&base.server_address),
            Arc::clone(&base.server_port),
        ),
        None => (Arc::default(), Arc::default()),
    }
}
