//! Writing field values into a line buffer: JSON (escaped, typed) or text (`key=value`),
//! redacting as it goes. No intermediate `String`s: `Debug` values are formatted straight into
//! the buffer through an escaping adapter.
//!
//! Every string value (and the message) is bounded to `tracing.max_field_value_size` bytes:
//! past it the value is cut on a UTF-8 boundary and ends with `…[truncated, N bytes]`, N the
//! whole value's length, so one caller's 1 MiB input never makes a 1 MB log line.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};

use crate::redact::{REDACTED, Redactor};

/// How fields are spelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// `"key":value`, comma-separated.
    Json,
    /// `key=value`, space-separated.
    Text,
}

/// Keys the JSON line writes itself; an event field with one of these names is written as
/// `field.<name>` instead, so it can never shadow them.
pub(crate) const RESERVED: &[&str] = &[
    "timestamp",
    "level",
    "message",
    "target",
    "service",
    "span",
    "spans",
    "trace_id",
    "span_id",
];

/// Records fields of one event or span into `out`.
pub(crate) struct FieldWriter<'a> {
    pub(crate) out: &'a mut Vec<u8>,
    /// Where the `message` field goes (events); `None` writes it like any field (spans).
    pub(crate) message: Option<&'a mut Vec<u8>>,
    pub(crate) style: Style,
    pub(crate) redactor: &'a Redactor,
    /// Field names written as `field.<name>` (JSON only) because the line or object they go
    /// into has a key of that name: [`RESERVED`] for events, `name` for spans.
    pub(crate) reserved: &'static [&'static str],
    /// Whether a field has been written already (for the separator).
    pub(crate) any: bool,
    /// The most bytes of one value written (`tracing.max_field_value_size`).
    pub(crate) max_value: usize,
}

impl<'a> FieldWriter<'a> {
    pub(crate) fn new(
        out: &'a mut Vec<u8>,
        style: Style,
        redactor: &'a Redactor,
        max_value: usize,
    ) -> Self {
        Self {
            any: false,
            out,
            message: None,
            style,
            redactor,
            reserved: &[],
            max_value,
        }
    }

    /// Writes the separator and key; returns `false` if the value must be redacted (in which
    /// case the redaction marker has been written already).
    fn key(&mut self, name: &str) -> bool {
        match self.style {
            Style::Json => {
                if self.any {
                    self.out.push(b',');
                }
                self.out.push(b'"');
                if self.reserved.contains(&name) {
                    self.out.extend_from_slice(b"field.");
                }
                escape_json(self.out, name);
                self.out.extend_from_slice(b"\":");
            }
            Style::Text => {
                if self.any {
                    self.out.push(b' ');
                }
                escape_text(self.out, name);
                self.out.push(b'=');
            }
        }
        self.any = true;
        if self.redactor.is_redacted(name) {
            self.str_value(REDACTED);
            return false;
        }
        true
    }

    fn str_value(&mut self, value: &str) {
        self.out.push(b'"');
        escape_bounded(self.out, self.style, value, self.max_value);
        self.out.push(b'"');
    }

    fn message_target(&mut self, field: &Field) -> Option<&mut Vec<u8>> {
        if field.name() == "message" {
            self.message.as_deref_mut()
        } else {
            None
        }
    }

    fn display_value(&mut self, value: &dyn fmt::Display) {
        let quoted = self.style == Style::Json;
        if quoted {
            self.out.push(b'"');
        }
        let mut w = Bounded::new(self.out, self.style, self.max_value);
        let _ = write!(w, "{value}");
        w.finish();
        if quoted {
            self.out.push(b'"');
        }
    }

    fn debug_value(&mut self, value: &dyn fmt::Debug) {
        let quoted = self.style == Style::Json;
        if quoted {
            self.out.push(b'"');
        }
        let mut w = Bounded::new(self.out, self.style, self.max_value);
        let _ = write!(w, "{value:?}");
        w.finish();
        if quoted {
            self.out.push(b'"');
        }
    }

    fn number(&mut self, field: &Field, digits: &str) {
        if self.key(field.name()) {
            self.out.extend_from_slice(digits.as_bytes());
        }
    }
}

impl Visit for FieldWriter<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            let mut b = ryu::Buffer::new();
            self.number(field, b.format_finite(value));
        } else if self.key(field.name()) {
            let text = if value.is_nan() {
                "NaN"
            } else if value > 0.0 {
                "inf"
            } else {
                "-inf"
            };
            self.str_value(text);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        let mut b = itoa::Buffer::new();
        self.number(field, b.format(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let mut b = itoa::Buffer::new();
        self.number(field, b.format(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let mut b = itoa::Buffer::new();
        self.number(field, b.format(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let mut b = itoa::Buffer::new();
        self.number(field, b.format(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.number(field, if value { "true" } else { "false" });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let (style, max) = (self.style, self.max_value);
        if let Some(msg) = self.message_target(field) {
            escape_bounded(msg, style, value, max);
            return;
        }
        if self.key(field.name()) {
            self.str_value(value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.key(field.name()) {
            self.display_value(&value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let (style, max) = (self.style, self.max_value);
        if let Some(msg) = self.message_target(field) {
            let mut w = Bounded::new(msg, style, max);
            let _ = write!(w, "{value:?}");
            w.finish();
            return;
        }
        if self.key(field.name()) {
            self.debug_value(value);
        }
    }
}

/// Appends at most `max` bytes of `value` (then the truncation note), escaped for `style`.
/// The common case — a value under the bound — costs one comparison.
pub(crate) fn escape_bounded(out: &mut Vec<u8>, style: Style, value: &str, max: usize) {
    let shown = if value.len() <= max {
        value
    } else {
        &value[..floor_char_boundary(value, max)]
    };
    match style {
        Style::Json => escape_json(out, shown),
        Style::Text => escape_text(out, shown),
    }
    if shown.len() < value.len() {
        truncation_note(out, value.len());
    }
}

/// `…[truncated, N bytes]`.
fn truncation_note(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice("…[truncated, ".as_bytes());
    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    out.extend_from_slice(b" bytes]");
}

/// The largest char boundary of `s` at or before `at`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// `fmt::Write` into a buffer, escaping for a style, keeping at most `max` bytes of what is
/// written and counting the rest (formatting a huge `Debug` value still takes its time, but
/// never its memory); [`finish`](Self::finish) adds the truncation note.
pub(crate) struct Bounded<'a> {
    out: &'a mut Vec<u8>,
    style: Style,
    max: usize,
    shown: usize,
    total: usize,
    /// Something was cut: nothing later is shown (no gaps in a value).
    closed: bool,
}

impl<'a> Bounded<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>, style: Style, max: usize) -> Self {
        Self {
            out,
            style,
            max,
            shown: 0,
            total: 0,
            closed: false,
        }
    }

    /// Notes the truncation, if anything was cut.
    pub(crate) fn finish(self) {
        if self.total > self.shown {
            truncation_note(self.out, self.total);
        }
    }
}

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.total += s.len();
        if self.closed {
            return Ok(());
        }
        let room = self.max - self.shown;
        let shown = if s.len() <= room {
            s
        } else {
            self.closed = true;
            &s[..floor_char_boundary(s, room)]
        };
        self.shown += shown.len();
        match self.style {
            Style::Json => escape_json(self.out, shown),
            Style::Text => escape_text(self.out, shown),
        }
        Ok(())
    }
}

/// Appends `s` escaped for the inside of a JSON string.
pub(crate) fn escape_json(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends `s` with control characters escaped (`\n`, `\t`, …) so text lines stay lines.
pub(crate) fn escape_text(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b < 0x20 {
            out.extend_from_slice(&bytes[start..i]);
            match b {
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                _ => out.push(b'?'),
            }
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escaping_round_trips_through_serde_json() {
        let nasty = "quote\" back\\ nl\n tab\t bell\u{7} é 🦀";
        let mut out = b"\"".to_vec();
        escape_json(&mut out, nasty);
        out.push(b'"');
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, nasty);
    }

    #[test]
    fn long_values_are_cut_on_a_char_boundary_with_their_length_noted() {
        let value = "é".repeat(10); // 20 bytes
        let mut out = Vec::new();
        escape_bounded(&mut out, Style::Json, &value, 5);
        assert_eq!(String::from_utf8(out).unwrap(), "éé…[truncated, 20 bytes]");
        let mut out = Vec::new();
        escape_bounded(&mut out, Style::Json, "short", 5);
        assert_eq!(out, b"short");
    }

    #[test]
    fn formatted_values_are_bounded_however_they_are_written() {
        use std::fmt::Write as _;
        let mut out = Vec::new();
        let mut w = Bounded::new(&mut out, Style::Text, 4);
        for piece in ["ab", "cde", "f"] {
            w.write_str(piece).unwrap();
        }
        w.finish();
        assert_eq!(String::from_utf8(out).unwrap(), "abcd…[truncated, 6 bytes]");
        let mut out = Vec::new();
        let mut w = Bounded::new(&mut out, Style::Text, 4);
        for piece in ["ab", "cd"] {
            w.write_str(piece).unwrap();
        }
        w.finish();
        assert_eq!(out, b"abcd", "exactly the bound: nothing cut");
    }

    #[test]
    fn text_escaping_keeps_one_line() {
        let mut out = Vec::new();
        escape_text(&mut out, "a\nb\tc");
        assert_eq!(out, b"a\\nb\\tc");
    }
}
