//! The OpenTelemetry ids of a tracing span, looked up once and cached in the span's extensions.

use std::sync::OnceLock;

use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use tracing::Dispatch;
use tracing::dispatcher::WeakDispatch;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

/// The OpenTelemetry ids of one span, with their lower-case hex spelling pre-rendered.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OtelIds {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) trace_hex: [u8; 32],
    pub(crate) span_hex: [u8; 16],
}

impl OtelIds {
    fn new(trace_id: TraceId, span_id: SpanId) -> Self {
        let mut trace_hex = [0u8; 32];
        hex(&trace_id.to_bytes(), &mut trace_hex);
        let mut span_hex = [0u8; 16];
        hex(&span_id.to_bytes(), &mut span_hex);
        Self {
            trace_id,
            span_id,
            trace_hex,
            span_hex,
        }
    }
}

fn hex(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
    }
}

/// Where a layer finds the dispatcher it is part of (set by `Layer::on_register_dispatch`).
#[derive(Debug, Default)]
pub(crate) struct DispatchCell(OnceLock<WeakDispatch>);

impl DispatchCell {
    pub(crate) fn register(&self, dispatch: &Dispatch) {
        let _ = self.0.set(dispatch.downgrade());
    }

    fn upgrade(&self) -> Option<Dispatch> {
        match self.0.get() {
            Some(weak) => weak.upgrade(),
            None => tracing::dispatcher::get_default(|d| Some(d.clone())),
        }
    }
}

/// The OpenTelemetry ids of `span`, cached in its extensions after the first lookup.
///
/// The first lookup starts the OpenTelemetry span (as entering it does), so a parent must be
/// set with `set_parent` before the span's first event or enter. `None` when the subscriber has
/// no OpenTelemetry layer or the span context is invalid.
pub(crate) fn otel_ids<'a, R>(span: &SpanRef<'a, R>, dispatch: &DispatchCell) -> Option<OtelIds>
where
    R: LookupSpan<'a>,
{
    if let Some(ids) = span.extensions().get::<OtelIds>() {
        return Some(*ids);
    }
    let dispatch = dispatch.upgrade()?;
    let cx = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch)?;
    let otel_span = cx.span();
    let sc = otel_span.span_context();
    if !sc.is_valid() {
        return None;
    }
    let ids = OtelIds::new(sc.trace_id(), sc.span_id());
    let _ = span.extensions_mut().replace(ids);
    Some(ids)
}
