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
