//! [`TracingSettings`]: the `[tracing]` section of a service's configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use boost_config::{Endpoint, Secret};
use serde::{Deserialize, Serialize};

/// The field names redacted by default (compared case-insensitively, on the whole name or on
/// any part after a `.`, `_` or `-`: `http.request.header.authorization`, `access_token`
/// and `x_api_key` all match).
pub const DEFAULT_REDACT: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "private_key",
];

/// How logs and traces are produced. Every field has a working default; see
/// `docs/logging.md` for the JSON schema.
///
/// ```
/// let settings: boost_tracing::TracingSettings = toml::from_str(r#"
///     format = "json"
///     filter = "info,hello_service=debug"
///     [otlp]
///     enabled = true
///     endpoint = "http://otel-collector:4317"
/// "#).unwrap();
/// assert!(settings.otlp.enabled);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TracingSettings {
    /// Log line format: `json`, `pretty`, `compact`, or `auto` (json, unless stdout is a
    /// terminal, then pretty). Default: `auto`.
    pub format: LogFormat,
    /// Which events are logged, in `RUST_LOG` syntax (`info,my_crate=debug`). The `RUST_LOG`
    /// environment variable, when set and not empty, overrides it (an invalid one makes
    /// [`init`](crate::init) fail, naming it). Changeable at run time through
    /// [`LogFilter`](crate::LogFilter). Default: `info`.
    pub filter: String,
    /// Field names whose values are written as `"[REDACTED]"` in events and spans, in every
    /// format. Default: [`DEFAULT_REDACT`].
    pub redact: Vec<String>,
    /// How many log lines may wait for the (background) writer; when full, new lines are
    /// dropped and counted in `log_dropped_lines_total`, never blocking the caller.
    /// Default: `16384`.
    pub queue_lines: usize,
    /// How long flushing the log queue may take at shutdown before giving up. Default: `2s`.
    #[serde(with = "humantime_serde")]
    pub flush_timeout: Duration,
    /// Per-callsite rate limiting. Default: off.
    pub rate_limit: RateLimitSettings,
    /// Turn panics into one structured `error` event (then run the previous hook).
    /// Default: `true`.
    pub panic_hook: bool,
    /// OpenTelemetry span export over OTLP/gRPC. Default: off.
    pub otlp: OtlpSettings,
}

impl Default for TracingSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
            filter: "info".to_owned(),
            redact: DEFAULT_REDACT.iter().map(|&k| k.to_owned()).collect(),
            queue_lines: 16_384,
            flush_timeout: Duration::from_secs(2),
            rate_limit: RateLimitSettings::default(),
            panic_hook: true,
            otlp: OtlpSettings::default(),
        }
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogFormat {
    /// `json` when stdout is not a terminal, `pretty` when it is.
    #[default]
    Auto,
    /// One JSON object per line (the documented schema).
    Json,
    /// Human-readable, several lines per event.
    Pretty,
    /// Human-readable, one line per event.
    Compact,
}

impl LogFormat {
    /// Resolves `Auto` against whether stdout is a terminal.
    pub(crate) fn resolve(self) -> Self {
        use std::io::IsTerminal as _;
        match self {
            Self::Auto if std::io::stdout().is_terminal() => Self::Pretty,
            Self::Auto => Self::Json,
            other => other,
        }
    }
}

/// Per-callsite log rate limiting: at most `per_second` events per second from one
/// `info!`/`warn!`/… call site; the rest are dropped, counted in
/// `log_suppressed_events_total`, and summarised by one `suppressed K events` line when the
/// call site logs again after the window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RateLimitSettings {
    /// Events per second allowed from each call site; `0` turns rate limiting off.
    /// Default: `0` (off).
    pub per_second: u32,
}

/// OTLP/gRPC span export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct OtlpSettings {
    /// Export spans. When off, spans still get trace and span ids (for log correlation and
    /// propagation) but are not recorded. Default: `false`.
    pub enabled: bool,
    /// The collector's OTLP/gRPC endpoint. Default: `http://127.0.0.1:4317`.
    ///
    /// Credentials written in the URL (`https://user:password@collector:4317`) are masked as
    /// `***@` wherever it is shown: `Debug`, `--print-config`, `/config`, error messages (see
    /// [`Endpoint`]). Prefer [`headers`](Self::headers) for API keys where the collector
    /// takes them.
    pub endpoint: Endpoint,
    /// Extra gRPC metadata sent with every export (e.g. an API key). Values are secrets:
    /// never printed. A `_` in a name is sent as `-`, so a header such as `x-api-key` can
    /// come from an environment variable (`…__TRACING__OTLP__HEADERS__X_API_KEY_FILE`).
    /// Default: none.
    pub headers: BTreeMap<String, Secret<String>>,
    /// Time limit for one export call. Default: `10s`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Finished spans waiting for export; beyond it spans are dropped. Default: `2048`.
    pub max_queue_size: usize,
    /// Spans per export call. Default: `512`.
    pub max_export_batch_size: usize,
    /// How often a batch is sent. Default: `5s`.
    #[serde(with = "humantime_serde")]
    pub scheduled_delay: Duration,
    /// Fraction of new traces sampled (0.0 – 1.0); a span with a parent follows its parent's
    /// decision (parent-based trace-id-ratio sampler). Default: `1.0`.
    pub sample_ratio: f64,
}

impl Default for OtlpSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            endpoint: Endpoint::new("http://127.0.0.1:4317"),
            headers: BTreeMap::new(),
            timeout: Duration::from_secs(10),
            max_queue_size: 2048,
            max_export_batch_size: 512,
            scheduled_delay: Duration::from_secs(5),
            sample_ratio: 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_toml_and_hide_header_values() {
        let mut settings = TracingSettings::default();
        settings
            .otlp
            .headers
            .insert("x-api-key".into(), Secret::new("hunter2".into()));
        let text = toml::to_string(&settings).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("flush_timeout = \"2s\""), "{text}");
        let back: TracingSettings = toml::from_str("").unwrap();
        assert_eq!(back, TracingSettings::default());
    }

    #[test]
    fn debug_never_shows_a_password_in_the_endpoint() {
        let mut settings = TracingSettings::default();
        settings.otlp.endpoint = Endpoint::new("https://svc:CANARY_PW@collector:4317");
        let debug = format!("{settings:?} {:?}", settings.otlp);
        assert!(!debug.contains("CANARY_PW"), "{debug}");
        assert!(debug.contains("https://***@collector:4317"), "{debug}");
        let text = toml::to_string(&settings).unwrap();
        assert!(!text.contains("CANARY_PW"), "{text}");
    }

    #[test]
    fn an_endpoint_with_credentials_deserialises_as_written() {
        let settings: TracingSettings =
            toml::from_str("[otlp]\nendpoint = \"https://svc:pw@collector:4317\"").unwrap();
        assert_eq!(
            settings.otlp.endpoint.expose(),
            "https://svc:pw@collector:4317"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<TracingSettings>("fromat = \"json\"").unwrap_err();
        assert!(err.to_string().contains("fromat"), "{err}");
    }

    #[test]
    fn formats_parse_lowercase() {
        let s: TracingSettings = toml::from_str("format = \"compact\"").unwrap();
        assert_eq!(s.format, LogFormat::Compact);
    }
}
