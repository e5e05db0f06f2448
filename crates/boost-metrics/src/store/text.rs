//! The text encoders: Prometheus text 0.0.4 and OpenMetrics 1.0, written
//! into one `String` with `push_str` and stack-formatted numbers — no
//! allocation per line.

use metrics::{Key, Unit};

use super::cells::HistogramCell;
use crate::MetricKind;

/// The exposition format of a scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScrapeFormat {
    /// Prometheus text format 0.0.4 (no exemplars).
    Prometheus,
    /// OpenMetrics text 1.0.0: exemplars on histogram buckets, `# EOF` at the end.
    OpenMetrics,
}

impl ScrapeFormat {
    /// The `Content-Type` to serve this format with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The format to answer a request with this `Accept` header in:
    /// OpenMetrics when the client asks for `application/openmetrics-text`
    /// (version 1.0.0 or 0.0.1, or none given) at least as much as for plain
    /// text, else Prometheus text. No header, or one that cannot be read,
    /// gets Prometheus text.
    ///
    /// ```
    /// use boost_metrics::ScrapeFormat;
    ///
    /// // What Prometheus sends.
    /// let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
    ///     version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// assert_eq!(ScrapeFormat::negotiate(Some(prometheus)), ScrapeFormat::OpenMetrics);
    /// assert_eq!(ScrapeFormat::negotiate(Some("text/plain")), ScrapeFormat::Prometheus);
    /// assert_eq!(ScrapeFormat::negotiate(None), ScrapeFormat::Prometheus);
    /// ```
    pub fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Self::Prometheus;
        };
        let (mut openmetrics, mut text) = (0.0f64, 0.0f64);
        // Bounded: a header is at most what the HTTP server admits, and only
        // the first 32 media ranges are looked at.
        for range in accept.split(',').take(32) {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let (mut q, mut version_ok) = (1.0f64, true);
            for param in parts {
                let Some((name, value)) = param.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"');
                match name.trim().to_ascii_lowercase().as_str() {
                    "q" => q = value.parse().unwrap_or(0.0),
                    "version" => version_ok = matches!(value, "1.0.0" | "0.0.1"),
                    _ => {}
                }
            }
            if !(q.is_finite() && q > 0.0) {
                continue;
            }
            match media.as_str() {
                "application/openmetrics-text" if version_ok => openmetrics = openmetrics.max(q),
                "text/plain" | "*/*" | "text/*" => text = text.max(q),
                _ => {}
            }
        }
        if openmetrics > 0.0 && openmetrics >= text {
            Self::OpenMetrics
        } else {
            Self::Prometheus
        }
    }
}

/// `a="x",b="y"`: label keys made valid (`[a-zA-Z_][a-zA-Z0-9_]*`, others
/// become `_`), values escaped.
pub(super) fn label_text(key: &Key) -> String {
    let mut out = String::new();
    for (i, label) in key.labels().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, c) in label.key().chars().enumerate() {
            let ok = c.is_ascii_alphabetic() || c == '_' || (j > 0 && c.is_ascii_digit());
            out.push(if ok { c } else { '_' });
        }
        if label.key().is_empty() {
            out.push('_');
        }
        out.push_str("=\"");
        escape_into(&mut out, label.value(), true);
        out.push('"');
    }
    out
}

/// Escapes `\`, newline and (when `quote`) `"`.
fn escape_into(out: &mut String, text: &str, quote: bool) {
    let mut rest = text;
    while let Some(at) = rest.find(|c| c == '\\' || c == '\n' || (quote && c == '"')) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            _ => "\\\"",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// Appends the unit's suffix to `name` unless it already ends with it
/// (before `_total`/`_count`/`_sum`/`_bucket` if one ends the name), as
/// metrics-exporter-prometheus's recommended naming does.
fn add_unit_if_missing(name: &mut String, unit: Unit) {
    const KNOWN_SUFFIXES: [&str; 4] = ["_sum", "_count", "_bucket", "_total"];
    let unit = match unit {
        Unit::Count => return,
        Unit::Percent => "ratio",
        other => other.as_str(),
    };
    for suffix in KNOWN_SUFFIXES {
        if name.ends_with(suffix) {
            let at = name.len() - suffix.len();
            if !name[..at].ends_with(unit) {
                name.insert_str(at, &format!("_{unit}"));
            }
            return;
        }
    }
    if !name.ends_with(unit) {
        name.push('_');
        name.push_str(unit);
    }
}

/// Writes families and their samples into one buffer.
pub(super) struct Encoder<'a> {
    out: &'a mut String,
    format: ScrapeFormat,
    /// The exported name of the current family (reused between families).
    name: String,
    /// Cumulative bucket counts of the current histogram (reused).
    cumulative: Vec<u64>,
}

impl<'a> Encoder<'a> {
    pub(super) fn new(out: &'a mut String, format: ScrapeFormat) -> Self {
        Self {
            out,
            format,
            name: String::with_capacity(64),
            cumulative: Vec::with_capacity(32),
        }
    }

    /// Starts a family: works out its exported name, writes HELP and TYPE.
    pub(super) fn family(
        &mut self,
        raw: &str,
        kind: MetricKind,
        unit: Option<Unit>,
        help: Option<&str>,
    ) {
        self.name.clear();
        for (i, c) in raw.chars().enumerate() {
            let ok =
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit());
            self.name.push(if ok { c } else { '_' });
        }
        if self.name.is_empty() {
            self.name.push('_');
        }
        if let Some(unit) = unit {
            add_unit_if_missing(&mut self.name, unit);
        }
        if kind == MetricKind::Counter && !self.name.ends_with("_total") {
            self.name.push_str("_total");
        }
        // OpenMetrics names a counter family without its `_total`.
        let family = match (self.format, kind) {
            (ScrapeFormat::OpenMetrics, MetricKind::Counter) => {
                self.name.strip_suffix("_total").unwrap_or(&self.name)
            }
            _ => &self.name,
        };
        let out = &mut *self.out;
        if let Some(help) = help {
            out.push_str("# HELP ");
            out.push_str(family);
            out.push(' ');
            escape_into(out, help, self.format == ScrapeFormat::OpenMetrics);
            out.push('\n');
        }
        out.push_str("# TYPE ");
        out.push_str(family);
        out.push_str(match kind {
            MetricKind::Counter => " counter\n",
            MetricKind::Gauge => " gauge\n",
            _ => " histogram\n",
        });
    }

    fn sample_start(&mut self, suffix: &str, labels: &str) {
        let out = &mut *self.out;
        out.push_str(&self.name);
        out.push_str(suffix);
        if !labels.is_empty() {
            out.push('{');
            out.push_str(labels);
            out.push('}');
        }
        out.push(' ');
    }

    pub(super) fn counter(&mut self, labels: &str, value: u64) {
        self.sample_start("", labels);
        self.out.push_str(itoa::Buffer::new().format(value));
        self.out.push('\n');
    }

    pub(super) fn gauge(&mut self, labels: &str, value: f64) {
        self.sample_start("", labels);
        push_f64(self.out, value);
        self.out.push('\n');
    }

    pub(super) fn histogram(&mut self, labels: &str, cell: &HistogramCell) {
        let mut cumulative = std::mem::take(&mut self.cumulative);
        let snapshot = cell.snapshot(&mut cumulative);
        let le = &cell.bounds.le;
        for (index, count) in snapshot.cumulative.iter().enumerate() {
            let out = &mut *self.out;
            out.push_str(&self.name);
            out.push_str("_bucket{");
            if !labels.is_empty() {
                out.push_str(labels);
                out.push(',');
            }
            out.push_str("le=\"");
            out.push_str(le.get(index).map_or("+Inf", String::as_str));
            out.push_str("\"} ");
            out.push_str(itoa::Buffer::new().format(*count));
            if self.format == ScrapeFormat::OpenMetrics
                && let Some(exemplar) = cell.exemplar(index)
            {
                out.push_str(" # {trace_id=\"");
                push_hex(out, &exemplar.trace_id);
                out.push_str("\"} ");
                push_f64(out, exemplar.value);
                out.push(' ');
                push_f64(out, exemplar.timestamp);
            }
            out.push('\n');
        }
        let (sum, count) = (snapshot.sum, snapshot.cumulative.last().copied());
        self.sample_start("_sum", labels);
        push_f64(self.out, sum);
        self.out.push('\n');
        self.sample_start("_count", labels);
        self.out
            .push_str(itoa::Buffer::new().format(count.unwrap_or(0)));
        self.out.push('\n');
        self.cumulative = cumulative;
    }
}

/// A float as Prometheus reads it: integers without a fraction, `NaN`,
/// `+Inf`, `-Inf`, otherwise the shortest round-tripping form.
pub(crate) fn push_f64(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 9.0e15 {
        out.push_str(itoa::Buffer::new().format(value as i64));
    } else {
        out.push_str(ryu::Buffer::new().format_finite(value));
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_keys_made_valid() {
        let key = Key::from_parts(
            "m",
            vec![
                metrics::Label::new("a.b", "x\"y\\z\nw"),
                metrics::Label::new("1c", "v"),
            ],
        );
        assert_eq!(label_text(&key), r#"a_b="x\"y\\z\nw",_c="v""#);
    }

    #[test]
    fn floats_are_written_the_way_prometheus_reads_them() {
        for (value, text) in [
            (2.0, "2"),
            (-3.0, "-3"),
            (0.003, "0.003"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (1.5e300, "1.5e300"),
        ] {
            let mut out = String::new();
            push_f64(&mut out, value);
            assert_eq!(out, text);
        }
    }

    #[test]
    fn units_are_appended_only_when_missing() {
        for (name, unit, expected) in [
            ("jobs_wait", Unit::Seconds, "jobs_wait_seconds"),
            ("cpu_total", Unit::Seconds, "cpu_seconds_total"),
            ("cpu_seconds_total", Unit::Seconds, "cpu_seconds_total"),
            ("entries", Unit::Count, "entries"),
            ("hit", Unit::Percent, "hit_ratio"),
        ] {
            let mut name = name.to_owned();
            add_unit_if_missing(&mut name, unit);
            assert_eq!(name, expected);
        }
    }

    #[test]
    fn accept_headers_pick_the_format() {
        use ScrapeFormat::*;
        for (accept, expected) in [
            ("application/openmetrics-text", OpenMetrics),
            (
                "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;q=0.9",
                Prometheus,
            ),
            ("application/openmetrics-text;version=2.0.0", Prometheus),
            ("application/openmetrics-text;q=0", Prometheus),
            ("text/plain;version=0.0.4", Prometheus),
            ("*/*", Prometheus),
            ("", Prometheus),
            ("garbage;;;==,", Prometheus),
        ] {
            assert_eq!(ScrapeFormat::negotiate(Some(accept)), expected, "{accept}");
        }
    }
}
