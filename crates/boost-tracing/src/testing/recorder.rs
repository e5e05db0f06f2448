//! How a [`Capture`](super::Capture) records: a span processor for finished spans and a layer
//! for events (with their spans' fields and ids).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::SpanId;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanProcessor};
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Subscriber, span};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::captured::{CapturedEvent, CapturedScope, CapturedSpan, CapturedSpanEvent};
use super::{Store, lock};
use crate::ids::{DispatchCell, otel_ids};

#[derive(Debug)]
pub(super) struct CaptureProcessor(pub(super) Arc<Store>);

impl SpanProcessor for CaptureProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        let parent = span.parent_span_id;
        let captured = CapturedSpan {
            name: span.name.into_owned(),
            trace_id: span.span_context.trace_id(),
            span_id: span.span_context.span_id(),
            parent_span_id: (parent != SpanId::INVALID).then_some(parent),
            parent_is_remote: span.parent_span_is_remote,
            kind: span.span_kind,
            attributes: attributes_to_json(&span.attributes),
            status: span.status,
            events: span
                .events
                .events
                .iter()
                .map(|e| CapturedSpanEvent {
                    name: e.name.to_string(),
                    attributes: attributes_to_json(&e.attributes),
                })
                .collect(),
        };
        lock(&self.0.spans).push(captured);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

fn attributes_to_json(attrs: &[opentelemetry::KeyValue]) -> BTreeMap<String, Value> {
    attrs
        .iter()
        .map(|kv| (kv.key.to_string(), otel_value_to_json(&kv.value)))
        .collect()
}

fn otel_value_to_json(value: &opentelemetry::Value) -> Value {
    match value {
        opentelemetry::Value::Bool(b) => Value::from(*b),
        opentelemetry::Value::I64(i) => Value::from(*i),
        opentelemetry::Value::F64(f) => Value::from(*f),
        opentelemetry::Value::String(s) => Value::from(s.as_str()),
        other => Value::from(other.to_string()),
    }
}

/// Span fields kept by the capture layer.
struct ScopeFields(BTreeMap<String, Value>);

pub(super) struct EventLayer {
    pub(super) store: Arc<Store>,
    pub(super) dispatch: DispatchCell,
}

impl<S> Layer<S> for EventLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        self.dispatch.register(subscriber);
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut visitor = JsonVisitor::default();
        attrs.record(&mut visitor);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().replace(ScopeFields(visitor.fields));
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let mut visitor = JsonVisitor::default();
        values.record(&mut visitor);
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(scope) = ext.get_mut::<ScopeFields>() {
                scope.0.extend(visitor.fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut visitor = JsonVisitor::default();
        event.record(&mut visitor);
        let mut spans = Vec::new();
        let mut ids = None;
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let fields = span
                    .extensions()
                    .get::<ScopeFields>()
                    .map(|f| f.0.clone())
                    .unwrap_or_default();
                spans.push(CapturedScope {
                    name: span.name().to_owned(),
                    fields,
                });
            }
        }
        if let Some(span) = ctx.event_span(event) {
            ids = otel_ids(&span, &self.dispatch);
        }
        let meta = event.metadata();
        let captured = CapturedEvent {
            level: *meta.level(),
            target: meta.target().to_owned(),
            message: visitor.message.unwrap_or_default(),
            fields: visitor.fields,
            spans,
            trace_id: ids.map(|i| i.trace_id),
            span_id: ids.map(|i| i.span_id),
        };
        lock(&self.store.events).push(captured);
    }
}

/// Records field values as JSON values, the `message` field apart.
#[derive(Default)]
struct JsonVisitor {
    message: Option<String>,
    fields: BTreeMap<String, Value>,
}

impl JsonVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.fields.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for JsonVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}
