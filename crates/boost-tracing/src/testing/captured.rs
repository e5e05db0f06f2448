//! What a [`Capture`](super::Capture) hands back: events, their spans, finished spans.

use std::collections::BTreeMap;

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use serde_json::Value;
use tracing::Level;

/// One log event as a test sees it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CapturedEvent {
    /// The event's level.
    pub level: Level,
    /// The event's target (by default its module path).
    pub target: String,
    /// The `message` field (the format string, rendered), empty if none.
    pub message: String,
    /// The event's own fields, except `message`.
    pub fields: BTreeMap<String, Value>,
    /// The spans the event happened in, outermost first.
    pub spans: Vec<CapturedScope>,
    /// The OpenTelemetry trace id of the innermost span, if the event was inside one.
    pub trace_id: Option<TraceId>,
    /// The OpenTelemetry span id of the innermost span, if the event was inside one.
    pub span_id: Option<SpanId>,
}

impl CapturedEvent {
    /// The value of field `name` on the innermost span that has it.
    pub fn span_field(&self, name: &str) -> Option<&Value> {
        self.spans.iter().rev().find_map(|s| s.fields.get(name))
    }
}

/// A span an event was recorded in: its name and fields at the time of the event.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CapturedScope {
    /// The span's name.
    pub name: String,
    /// The span's fields (recorded at creation or with `Span::record`).
    pub fields: BTreeMap<String, Value>,
}

/// A finished span as the OpenTelemetry SDK exported it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CapturedSpan {
    /// The span name (`otel.name` if set, else the tracing span's name).
    pub name: String,
    /// Its trace id.
    pub trace_id: TraceId,
    /// Its span id.
    pub span_id: SpanId,
    /// The parent's span id, `None` for a root span.
    pub parent_span_id: Option<SpanId>,
    /// Whether the parent came from another process (extracted from headers).
    pub parent_is_remote: bool,
    /// The span kind (`otel.kind`).
    pub kind: SpanKind,
    /// Attributes: the span's fields plus what the OpenTelemetry layer adds.
    pub attributes: BTreeMap<String, Value>,
    /// The span status (`otel.status_code`; error events set it to error).
    pub status: Status,
    /// The events recorded inside the span, by name, with their attributes.
    pub events: Vec<CapturedSpanEvent>,
}

/// An event recorded on a span.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct CapturedSpanEvent {
    /// The event name (for tracing events, the message).
    pub name: String,
    /// The event attributes.
    pub attributes: BTreeMap<String, Value>,
}
