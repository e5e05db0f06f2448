//! [`sampled_trace_id`]: the trace an observation belongs to, for exemplars.

use opentelemetry::trace::TraceContextExt;

/// The OpenTelemetry trace id of the span the caller runs in, when that
/// trace is sampled (so the id can be looked up in the tracing backend);
/// `None` outside a span, when the subscriber has no OpenTelemetry layer, or
/// for a trace that is not sampled.
///
/// Its signature is boost-metrics' `TraceIdSource`: boost-service installs it
/// with `boost_metrics::set_trace_id_source(boost_tracing::sampled_trace_id)`,
/// so histogram observations made inside a sampled trace carry its id as an
/// OpenMetrics exemplar. boost-metrics calls it only while a bucket has no
/// exemplar since the last scrape.
///
/// ```
/// // No subscriber, no span: no trace.
/// assert_eq!(boost_tracing::sampled_trace_id(), None);
/// ```
pub fn sampled_trace_id() -> Option<[u8; 16]> {
    tracing::dispatcher::get_default(|dispatch| {
        let current = dispatch.current_span();
        let cx = tracing_opentelemetry::get_otel_context(current.id()?, dispatch)?;
        let span = cx.span();
        let context = span.span_context();
        (context.is_valid() && context.is_sampled()).then(|| context.trace_id().to_bytes())
    })
}

#[cfg(test)]
mod tests {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    use crate::testing::Capture;

    /// The id inside a span whose parent is `traceparent`.
    fn id_under(traceparent: &str) -> Option<[u8; 16]> {
        let capture = Capture::new();
        let _guard = capture.set_default();
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            http::HeaderValue::from_str(traceparent).unwrap_or_else(|e| panic!("{e}")),
        );
        let span = tracing::info_span!("rpc.server");
        let _ = span.set_parent(crate::propagation::extract_headers(&headers));
        span.in_scope(super::sampled_trace_id)
    }

    #[test]
    fn a_sampled_trace_gives_its_id_and_an_unsampled_one_none() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(
            id_under(&format!("00-{trace}-00f067aa0ba902b7-01")),
            Some(u128::from_str_radix(trace, 16).unwrap_or(0).to_be_bytes())
        );
        assert_eq!(id_under(&format!("00-{trace}-00f067aa0ba902b7-00")), None);
    }
}
