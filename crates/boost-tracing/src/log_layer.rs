//! The layer that writes log lines: JSON, pretty or compact, redacted, rate limited, into a
//! [`LineSink`].
//!
//! Span fields are rendered once, when the span is created (and when `Span::record` adds
//! some), and stored in the span's extensions; each event then copies them. Each event is
//! formatted into a reused thread-local buffer and handed to the sink as one line.

use std::cell::RefCell;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use tracing::{Event, Level, Subscriber, span};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use crate::ids::{DispatchCell, OtelIds, otel_ids};
use crate::rate_limit::{RateLimiter, Verdict};
use crate::redact::Redactor;
use crate::render::{FieldWriter, RESERVED, Style, escape_json, escape_text};
use crate::settings::LogFormat;
use crate::timestamp;
use crate::writer::LineSink;

/// The key a JSON span object writes itself: a span field called `name` becomes `field.name`.
const SPAN_RESERVED: &[&str] = &["name"];

/// A span's fields, already rendered in the layer's style (`"a":1,"b":"x"` or `a=1 b="x"`).
struct SpanFields(Vec<u8>);

/// The per-thread buffers one event is rendered into.
#[derive(Default)]
struct Buffers {
    line: Vec<u8>,
    message: Vec<u8>,
    fields: Vec<u8>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// Writes one line per event.
pub(crate) struct LogLayer {
    format: LogFormat,
    style: Style,
    redactor: Redactor,
    /// `"service":"<name>"`, escaped once.
    service_json: Vec<u8>,
    sink: Arc<dyn LineSink>,
    limiter: Option<RateLimiter>,
    dispatch: DispatchCell,
    /// `tracing.max_field_value_size`, in bytes.
    max_value: usize,
}

impl LogLayer {
    pub(crate) fn new(
        format: LogFormat,
        service: &str,
        redactor: Redactor,
        sink: Arc<dyn LineSink>,
        per_second: u32,
        max_value: usize,
    ) -> Self {
        let format = format.resolve();
        let mut service_json = b"\"service\":\"".to_vec();
        escape_json(&mut service_json, service);
        service_json.push(b'"');
        Self {
            style: if format == LogFormat::Json {
                Style::Json
            } else {
                Style::Text
            },
            format,
            redactor,
            service_json,
            sink,
            limiter: (per_second > 0).then(|| RateLimiter::new(per_second)),
            dispatch: DispatchCell::default(),
            max_value,
        }
    }

    fn render_json<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>, b: &mut Buffers)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Buffers {
            line,
            message,
            fields,
        } = b;
        let mut visitor = FieldWriter::new(fields, Style::Json, &self.redactor, self.max_value);
        visitor.message = Some(message);
        visitor.reserved = RESERVED;
        event.record(&mut visitor);
        let any_field = visitor.any;
        let meta = event.metadata();

        line.extend_from_slice(b"{\"timestamp\":\"");
        timestamp::write_now(line);
        line.extend_from_slice(b"\",\"level\":\"");
        line.extend_from_slice(meta.level().as_str().as_bytes());
        line.extend_from_slice(b"\",\"message\":\"");
        line.extend_from_slice(message);
        line.extend_from_slice(b"\",\"target\":\"");
        escape_json(line, meta.target());
        line.extend_from_slice(b"\",");
        line.extend_from_slice(&self.service_json);
        if any_field {
            line.push(b',');
            line.extend_from_slice(fields);
        }
        if let Some(leaf) = ctx.event_span(event) {
            let ids = otel_ids(&leaf, &self.dispatch);
            line.extend_from_slice(b",\"span\":");
            json_span(line, &leaf);
            line.extend_from_slice(b",\"spans\":[");
            let mut first = true;
            for span in leaf.scope().from_root() {
                if !first {
                    line.push(b',');
                }
                first = false;
                json_span(line, &span);
            }
            line.push(b']');
            if let Some(ids) = ids {
                write_ids_json(line, &ids);
            }
        }
        line.extend_from_slice(b"}\n");
    }

    fn render_text<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>, b: &mut Buffers)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Buffers {
            line,
            message,
            fields,
        } = b;
        let mut visitor = FieldWriter::new(fields, Style::Text, &self.redactor, self.max_value);
        visitor.message = Some(message);
        event.record(&mut visitor);
        let meta = event.metadata();
        let pretty = self.format == LogFormat::Pretty;

        timestamp::write_now(line);
        line.extend_from_slice(level_padded(meta.level()));
        line.push(b' ');
        let leaf = ctx.event_span(event);
        if !pretty && let Some(leaf) = &leaf {
            for span in leaf.scope().from_root() {
                text_span(line, &span);
                line.push(b':');
            }
            line.push(b' ');
        }
        escape_text(line, meta.target());
        line.extend_from_slice(b": ");
        line.extend_from_slice(message);
        let ids = leaf.as_ref().and_then(|l| otel_ids(l, &self.dispatch));
        if pretty {
            if !fields.is_empty() {
                line.extend_from_slice(b"\n    ");
                line.extend_from_slice(fields);
            }
            if let Some(leaf) = &leaf {
                line.extend_from_slice(b"\n    in ");
                let mut first = true;
                for span in leaf.scope().from_root() {
                    if !first {
                        line.extend_from_slice(b" > ");
                    }
                    first = false;
                    text_span(line, &span);
                }
            }
            if let Some(ids) = ids {
                line.extend_from_slice(b"\n    trace_id=");
                line.extend_from_slice(&ids.trace_hex);
                line.extend_from_slice(b" span_id=");
                line.extend_from_slice(&ids.span_hex);
            }
        } else {
            if !fields.is_empty() {
                line.push(b' ');
                line.extend_from_slice(fields);
            }
            if let Some(ids) = ids {
                line.extend_from_slice(b" trace_id=");
                line.extend_from_slice(&ids.trace_hex);
                line.extend_from_slice(b" span_id=");
                line.extend_from_slice(&ids.span_hex);
            }
        }
        line.push(b'\n');
    }

    /// Writes the `suppressed K events` line for a call site that was rate limited.
    fn write_summary(&self, event: &Event<'_>, suppressed: u64, b: &mut Buffers) {
        let meta = event.metadata();
        let line = &mut b.line;
        let mut count = itoa::Buffer::new();
        let count = count.format(suppressed);
        let callsite = format!(
            "{}:{}",
            meta.file().unwrap_or("?"),
            meta.line().unwrap_or_default()
        );
        match self.style {
            Style::Json => {
                line.extend_from_slice(b"{\"timestamp\":\"");
                timestamp::write_now(line);
                let _ = write!(
                    line,
                    "\",\"level\":\"WARN\",\"message\":\"suppressed {count} events\",\"target\":\""
                );
                escape_json(line, meta.target());
                line.extend_from_slice(b"\",");
                line.extend_from_slice(&self.service_json);
                let _ = write!(line, ",\"suppressed\":{count},\"callsite\":\"");
                escape_json(line, &callsite);
                line.extend_from_slice(b"\"}\n");
            }
            Style::Text => {
                timestamp::write_now(line);
                line.extend_from_slice(b"  WARN ");
                escape_text(line, meta.target());
                let _ = writeln!(
                    line,
                    ": suppressed {count} events suppressed={count} callsite={callsite}"
                );
            }
        }
        self.sink.write_line(line);
        line.clear();
    }
}

fn level_padded(level: &Level) -> &'static [u8] {
    match *level {
        Level::TRACE => b" TRACE",
        Level::DEBUG => b" DEBUG",
        Level::INFO => b"  INFO",
        Level::WARN => b"  WARN",
        _ => b" ERROR",
    }
}

fn json_span<'a, R: LookupSpan<'a>>(line: &mut Vec<u8>, span: &SpanRef<'a, R>) {
    line.extend_from_slice(b"{\"name\":\"");
    escape_json(line, span.name());
    line.push(b'"');
    if let Some(fields) = span.extensions().get::<SpanFields>()
        && !fields.0.is_empty()
    {
        line.push(b',');
        line.extend_from_slice(&fields.0);
    }
    line.push(b'}');
}

fn text_span<'a, R: LookupSpan<'a>>(line: &mut Vec<u8>, span: &SpanRef<'a, R>) {
    escape_text(line, span.name());
    if let Some(fields) = span.extensions().get::<SpanFields>()
        && !fields.0.is_empty()
    {
        line.push(b'{');
        line.extend_from_slice(&fields.0);
        line.push(b'}');
    }
}

fn write_ids_json(line: &mut Vec<u8>, ids: &OtelIds) {
    line.extend_from_slice(b",\"trace_id\":\"");
    line.extend_from_slice(&ids.trace_hex);
    line.extend_from_slice(b"\",\"span_id\":\"");
    line.extend_from_slice(&ids.span_hex);
    line.push(b'"');
}

impl<S> Layer<S> for LogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.dispatch.register(subscriber);
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut rendered = Vec::new();
        let mut visitor =
            FieldWriter::new(&mut rendered, self.style, &self.redactor, self.max_value);
        visitor.reserved = SPAN_RESERVED;
        attrs.record(&mut visitor);
        if let Some(span) = ctx.span(id) {
            let _ = span.extensions_mut().replace(SpanFields(rendered));
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(fields) = ext.get_mut::<SpanFields>() {
            let mut visitor =
                FieldWriter::new(&mut fields.0, self.style, &self.redactor, self.max_value);
            visitor.reserved = SPAN_RESERVED;
            visitor.any = !visitor.out.is_empty();
            values.record(&mut visitor);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut suppressed = 0;
        if let Some(limiter) = &self.limiter {
            match limiter.check(event.metadata().callsite(), Instant::now()) {
                Verdict::Suppress => return,
                Verdict::Write { suppressed: n } => suppressed = n,
            }
        }
        let render = |b: &mut Buffers| {
            if suppressed > 0 {
                self.write_summary(event, suppressed, b);
            }
            match self.style {
                Style::Json => self.render_json(event, &ctx, b),
                Style::Text => self.render_text(event, &ctx, b),
            }
            self.sink.write_line(&b.line);
        };
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut b) => {
                b.line.clear();
                b.message.clear();
                b.fields.clear();
                render(&mut b);
                if b.line.capacity() > 64 * 1024 {
                    *b = Buffers::default();
                }
            }
            Err(_) => render(&mut Buffers::default()),
        });
    }
}
