//! [`TracingSettings`]: the `[tracing]` section of a service's configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use boost_config::{ByteSize, Endpoint, Secret};
use boost_tls::ClientTlsSettings;
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
///
/// Its [`Validate`](boost_config::Validate) rules report every value that cannot work, each
/// under its key: the config loader runs them (keys under the section, `tracing.otlp.timeout`),
/// and so do [`init`](crate::init) and [`Builder::build`](crate::Builder::build), which return
/// the same problems as [`Error::Config`](crate::Error::Config):
///
/// ```
/// use std::time::Duration;
/// use boost_config::Problems;
/// use boost_tracing::TracingSettings;
///
/// let mut settings = TracingSettings::default();
/// settings.flush_timeout = Duration::ZERO;
/// settings.otlp.sample_ratio = 1.5;
/// let problems = Problems::of("tracing", &settings);
/// assert_eq!(
///     problems.keys().collect::<Vec<_>>(),
///     ["tracing.otlp.sample_ratio", "tracing.flush_timeout"]
/// );
/// ```
#[derive(
    Clone, Debug, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[validate(custom = crate::rules::tracing)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TracingSettings {
    /// Log line format: `json` (one object per line, the documented schema), `pretty` (several
    /// lines per event, for people), `compact` (one line per event, for people), or `auto`
    /// (`json`, unless stdout is a terminal, then `pretty`). Default: `auto`.
    pub format: LogFormat,
    /// Which events are logged, in `RUST_LOG` syntax: a default level, then `target=level` per
    /// crate or module (`info,hello_service=debug`). The `RUST_LOG` environment variable, when
    /// set and not empty, overrides it. Changeable while the service runs, through the admin
    /// `/loglevel` endpoint. The OpenTelemetry libraries' own logs stay at `warn` unless the
    /// filter names them (`info,opentelemetry_sdk=debug`). Default: `info`.
    pub filter: String,
    /// Field names whose values are never written: log lines and exported spans show a mask
    /// instead, in every format. Matched case-insensitively on the whole field name or on its
    /// end after a `.`, `_` or `-` (`password` also hides `db.password`, `api_key` also
    /// `x_api_key`, but not `password_hash`). This list replaces the default one; entries must
    /// not be empty. Default: `password`, `passwd`, `secret`, `token`, `authorization`,
    /// `cookie`, `api_key`, `apikey`, `private_key`.
    pub redact: Vec<String>,
    /// How many log lines may wait for the background writer. When the queue is full, new
    /// lines are dropped and counted in `log_dropped_lines_total`; logging never blocks the
    /// service. At least 1. Default: `16384`.
    pub queue_lines: usize,
    /// How long shutdown waits for queued log lines to be written, and again for pending spans
    /// to be exported, before giving up on them. More than `0s` and at most `5m`.
    /// Default: `2s`.
    #[serde(with = "humantime_serde")]
    pub flush_timeout: Duration,
    /// Per-call-site rate limiting of log events. Default: off.
    pub rate_limit: RateLimitSettings,
    /// Log a panic as one structured `error` event (with its location, thread and, when
    /// `RUST_BACKTRACE` asks for it, backtrace) before the usual panic message.
    /// Default: `true`.
    pub panic_hook: bool,
    /// OpenTelemetry span export to a collector over OTLP/gRPC. Default: off.
    pub otlp: OtlpSettings,
    /// The most bytes of one field value (and of the message) a log line shows: a longer
    /// value is cut on a UTF-8 boundary and ends with `…[truncated, N bytes]`, N its whole
    /// length, so one caller's huge input cannot make a huge log line. From 64 bytes to
    /// 1 MiB. Default: `"4 KiB"` (nginx's and Envoy's access-log lines are bounded alike;
    /// a value longer than a screenful is never read whole).
    pub max_field_value_size: ByteSize,
}

impl TracingSettings {
    /// [`max_field_value_size`](Self::max_field_value_size) in bytes.
    pub fn max_field_value_bytes(&self) -> usize {
        usize::try_from(self.max_field_value_size.as_u64()).unwrap_or(usize::MAX)
    }
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
            max_field_value_size: ByteSize::kib(4),
        }
    }
}

/// Log line format.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    boost_config::Validate,
    boost_config::Document,
)]
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
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    boost_config::Validate,
    boost_config::Document,
)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RateLimitSettings {
    /// Most events per second logged from one call site (one `info!`, `warn!`, … line in the
    /// code); the rest are dropped, counted in `log_suppressed_events_total`, and summed up in
    /// one `suppressed K events` line when the call site logs again. `0` turns rate limiting
    /// off. Default: `0` (off).
    pub per_second: u32,
}

/// OTLP/gRPC span export.
#[derive(
    Clone, Debug, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[validate(custom = crate::rules::otlp)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct OtlpSettings {
    /// Export spans to the collector. When off, spans still get trace and span ids (in log
    /// lines and in the `traceparent` sent upstream) but are not recorded. Default: `false`.
    pub enabled: bool,
    /// The collector's OTLP/gRPC endpoint, an `http://` or `https://` URL. Credentials written
    /// in it (`https://user:password@collector:4317`) are masked as `***@` wherever it is shown
    /// (`--print-config`, `/config`, error messages); prefer `headers` for API keys where the
    /// collector takes them. Checked only when `enabled`. Default: `http://127.0.0.1:4317`.
    pub endpoint: Endpoint,
    /// Extra gRPC metadata sent with every export, e.g. an API key: names are ASCII (a `_` is
    /// sent as `-`, so `x_api_key` from an environment variable such as
    /// `…__TRACING__OTLP__HEADERS__X_API_KEY_FILE` is sent as `x-api-key`), values printable
    /// ASCII. Values are secrets: never printed. Default: none.
    pub headers: BTreeMap<String, Secret<String>>,
    /// Time limit for one export call to the collector. More than `0s` and at most `5m`.
    /// Default: `10s`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Finished spans waiting for export; when the queue is full, new spans are dropped. The
    /// queue is allocated up front (about 350 bytes a span). From 1 to 1000000.
    /// Default: `2048`.
    pub max_queue_size: usize,
    /// Most spans sent in one export call. From 1 to `max_queue_size`. Default: `512`.
    pub max_export_batch_size: usize,
    /// How often waiting spans are sent (sooner when a full batch is ready). More than `0s` and
    /// at most `5m`. Default: `5s`.
    #[serde(with = "humantime_serde")]
    pub scheduled_delay: Duration,
    /// Fraction of new traces recorded, from `0.0` (none) to `1.0` (all); a span whose caller
    /// sent a trace context follows the caller's decision (parent-based trace-id-ratio
    /// sampling). Default: `1.0`.
    pub sample_ratio: f64,
    /// TLS to an `https://` collector: the CA bundle that verifies it (`ca_file`; unset: the
    /// system's roots), a client certificate for collectors that require mTLS (`cert_file` +
    /// `key_file`), and the name its certificate must carry (`server_name`; unset: the
    /// endpoint's host). An `https://` endpoint uses TLS with or without these keys (system
    /// roots); setting any of them with an `http://` endpoint is an error. Files are re-read
    /// when they change. Default: all unset.
    pub tls: ClientTlsSettings,
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
            tls: ClientTlsSettings::default(),
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
    fn max_field_value_size_is_refused_outside_its_range_naming_the_key() {
        use boost_config::Problems;
        let settings: TracingSettings = toml::from_str("max_field_value_size = \"8 KiB\"").unwrap();
        assert_eq!(settings.max_field_value_bytes(), 8 * 1024);
        assert!(Problems::of("tracing", &settings).is_empty());
        for bad in ["10 B", "2 MiB"] {
            let settings: TracingSettings =
                toml::from_str(&format!("max_field_value_size = \"{bad}\"")).unwrap();
            let problems = Problems::of("tracing", &settings);
            assert_eq!(
                problems.keys().collect::<Vec<_>>(),
                ["tracing.max_field_value_size"],
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<TracingSettings>("fromat = \"json\"").unwrap_err();
        assert!(err.to_string().contains("fromat"), "{err}");
    }

    #[test]
    fn every_format_parses_lowercase_and_has_no_rules() {
        for (text, format) in [
            ("auto", LogFormat::Auto),
            ("json", LogFormat::Json),
            ("pretty", LogFormat::Pretty),
            ("compact", LogFormat::Compact),
        ] {
            let s: TracingSettings = toml::from_str(&format!("format = \"{text}\"")).unwrap();
            assert_eq!(s.format, format);
            assert!(boost_config::Problems::of("tracing", &s).is_empty());
        }
    }

    #[test]
    fn formats_parse_lowercase() {
        let s: TracingSettings = toml::from_str("format = \"compact\"").unwrap();
        assert_eq!(s.format, LogFormat::Compact);
    }
}
