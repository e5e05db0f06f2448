//! The log line contract: JSON schema, redaction, filter reload, rate limiting, and the
//! non-blocking writer. Every test builds its own subscriber (nothing global).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use boost_config::ServiceIdentity;
use boost_tracing::testing::LogLines as Lines;
use boost_tracing::{LogFormat, TracingGuard, TracingSettings, builder};
use opentelemetry::trace::TraceContextExt as _;
use serde_json::Value;
use tracing::Dispatch;

fn identity() -> ServiceIdentity {
    ServiceIdentity::new("hello-service", "1.2.3")
}

fn logger(settings: TracingSettings) -> (Dispatch, TracingGuard, Lines) {
    let lines = Lines::default();
    let (dispatch, guard) = builder(&settings, &identity())
        .ignore_rust_log()
        .blocking_writer(lines.clone())
        .build()
        .unwrap();
    (dispatch, guard, lines)
}

fn json_settings() -> TracingSettings {
    let mut s = TracingSettings::default();
    s.format = LogFormat::Json;
    s.filter = "trace".into();
    s
}

fn is_hex(v: &Value, len: usize) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

#[test]
fn json_line_has_every_documented_key_with_its_type() {
    let (dispatch, _guard, lines) = logger(json_settings());
    let mut otel_ids = None;
    tracing::dispatcher::with_default(&dispatch, || {
        let outer = tracing::info_span!("request", method = "SayHello", attempt = 1_u64);
        let _o = outer.enter();
        let inner = tracing::info_span!("db", table = "users");
        let _i = inner.enter();
        tracing::info!(user = "ada", count = 3_i64, ratio = 0.5, ok = true, err = ?"boom", "order {} placed", 7);
        use boost_tracing::OpenTelemetrySpanExt as _;
        let cx = inner.context();
        let sc = cx.span().span_context().clone();
        otel_ids = Some((sc.trace_id().to_string(), sc.span_id().to_string()));
    });
    let line = &lines.json()[0];
    let obj = line.as_object().unwrap();

    let ts = obj["timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), "2026-11-22T00:06:38.123456Z".len(), "{ts}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T' && ts.as_bytes()[19] == b'.');
    assert_eq!(obj["level"], "INFO");
    assert_eq!(obj["message"], "order 7 placed");
    assert_eq!(obj["target"], "logging");
    assert_eq!(obj["service"], "hello-service");
    // Event fields are top-level keys, typed.
    assert_eq!(obj["user"], "ada");
    assert_eq!(obj["count"], 3);
    assert_eq!(obj["ratio"], 0.5);
    assert_eq!(obj["ok"], true);
    assert_eq!(obj["err"], "\"boom\"");
    // The innermost span, then the whole stack root first.
    assert_eq!(
        obj["span"],
        serde_json::json!({"name": "db", "table": "users"})
    );
    assert_eq!(
        obj["spans"],
        serde_json::json!([
            {"name": "request", "method": "SayHello", "attempt": 1},
            {"name": "db", "table": "users"}
        ])
    );
    assert!(is_hex(&obj["trace_id"], 32), "{line}");
    assert!(is_hex(&obj["span_id"], 16), "{line}");
    let (trace_id, span_id) = otel_ids.unwrap();
    assert_eq!(obj["trace_id"], trace_id.as_str());
    assert_eq!(obj["span_id"], span_id.as_str());
}

#[test]
fn event_outside_spans_has_no_span_keys() {
    let (dispatch, _guard, lines) = logger(json_settings());
    tracing::dispatcher::with_default(&dispatch, || tracing::warn!("alone"));
    let line = &lines.json()[0];
    assert_eq!(line["level"], "WARN");
    for key in ["span", "spans", "trace_id", "span_id"] {
        assert!(line.get(key).is_none(), "{key} in {line}");
    }
}

#[test]
fn fields_named_like_reserved_keys_cannot_shadow_them() {
    let (dispatch, _guard, lines) = logger(json_settings());
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(level = "fake", service = "x", "m")
    });
    let line = &lines.json()[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["service"], "hello-service");
    assert_eq!(line["field.level"], "fake");
    assert_eq!(line["field.service"], "x");
}

#[test]
fn a_span_field_called_name_cannot_shadow_the_span_name() {
    let (dispatch, _guard, lines) = logger(json_settings());
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("lookup", name = "ada", other = tracing::field::Empty);
        let _e = span.enter();
        span.record("other", 1_u64);
        tracing::info!("found");
    });
    let line = &lines.json()[0];
    let expected = serde_json::json!({"name": "lookup", "field.name": "ada", "other": 1});
    assert_eq!(line["span"], expected, "{line}");
    // The raw line has no duplicate key either (a JSON parser would keep only one).
    assert_eq!(lines.text().matches("\"name\":").count(), 2, "{line}");
}

#[test]
fn every_default_redacted_key_is_redacted_in_events_and_spans_in_every_format() {
    for format in [LogFormat::Json, LogFormat::Compact, LogFormat::Pretty] {
        let mut settings = json_settings();
        settings.format = format;
        let (dispatch, _guard, lines) = logger(settings);
        tracing::dispatcher::with_default(&dispatch, || {
            for key in boost_tracing::DEFAULT_REDACT {
                macro_rules! both {
                    ($name:ident) => {{
                        let span = tracing::info_span!("login", $name = "hunter2-span");
                        let _e = span.enter();
                        tracing::info!($name = "hunter2-event", "attempt");
                        span.record(stringify!($name), "hunter2-record");
                    }};
                }
                match *key {
                    "password" => both!(password),
                    "passwd" => both!(passwd),
                    "secret" => both!(secret),
                    "token" => both!(token),
                    "authorization" => both!(authorization),
                    "cookie" => both!(cookie),
                    "api_key" => both!(api_key),
                    "apikey" => both!(apikey),
                    "private_key" => both!(private_key),
                    other => panic!("add a case for {other}"),
                }
            }
            let span = tracing::info_span!(
                "http",
                "http.request.header.authorization" = "Bearer hunter2"
            );
            let _e = span.enter();
            tracing::info!(Password = "hunter2-case", "case-insensitive");
        });
        let text = lines.text();
        assert!(!text.contains("hunter2"), "{format:?} leaked:\n{text}");
        let marks = text.matches("[REDACTED]").count();
        assert!(
            marks >= 2 * boost_tracing::DEFAULT_REDACT.len(),
            "{format:?}: {marks}\n{text}"
        );
        if format == LogFormat::Json {
            let first = &lines.json()[0];
            assert_eq!(first["password"], "[REDACTED]");
            assert_eq!(first["span"]["password"], "[REDACTED]");
        }
    }
}

#[test]
fn custom_redact_list_replaces_the_default() {
    let mut settings = json_settings();
    settings.redact = vec!["ssn".into()];
    let (dispatch, _guard, lines) = logger(settings);
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(ssn = "123", token = "visible", "m")
    });
    let line = &lines.json()[0];
    assert_eq!(line["ssn"], "[REDACTED]");
    assert_eq!(line["token"], "visible");
}

#[test]
fn filter_change_at_run_time_takes_effect() {
    let mut settings = json_settings();
    settings.filter = "info".into();
    let (dispatch, guard, lines) = logger(settings);
    let filter = guard.log_filter();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::debug!("hidden before");
        filter.set("debug").unwrap();
        assert_eq!(filter.current(), "debug");
        tracing::debug!("shown after");
        filter.set("warn").unwrap();
        tracing::info!("hidden again");
        let err = filter.set("info,[unclosed").unwrap_err();
        assert!(err.to_string().contains("RUST_LOG syntax"), "{err}");
        assert_eq!(filter.current(), "warn");
    });
    let messages: Vec<_> = lines.json().iter().map(|l| l["message"].clone()).collect();
    assert_eq!(messages, vec![Value::from("shown after")]);
}

/// The messages `filter` lets through of events at each level from OpenTelemetry's crates.
fn otel_messages_through(filter: &str) -> Vec<String> {
    let mut settings = json_settings();
    settings.filter = filter.into();
    let (dispatch, _guard, lines) = logger(settings);
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(target: "opentelemetry", "api info");
        tracing::debug!(target: "opentelemetry_sdk", "sdk debug");
        tracing::info!(target: "opentelemetry_sdk", "sdk info");
        tracing::warn!(target: "opentelemetry_sdk", "sdk warn");
        tracing::error!(target: "opentelemetry-otlp", "otlp error");
        tracing::info!(target: "my_service", "service info");
    });
    lines
        .json()
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn opentelemetry_logs_stay_at_warn_unless_the_filter_names_them() {
    assert_eq!(
        otel_messages_through("info"),
        ["sdk warn", "otlp error", "service info"],
        "a start is quiet, OpenTelemetry's warnings and errors still show"
    );
    assert_eq!(
        otel_messages_through("trace"),
        ["sdk warn", "otlp error", "service info"]
    );
    assert_eq!(
        otel_messages_through("info,opentelemetry_sdk=debug"),
        [
            "sdk debug",
            "sdk info",
            "sdk warn",
            "otlp error",
            "service info"
        ],
        "a crate named in the filter gets the level asked for; the others stay at warn"
    );
    assert_eq!(
        otel_messages_through("error"),
        ["otlp error"],
        "a quieter default is not widened"
    );
}

#[test]
fn a_filter_set_at_run_time_keeps_opentelemetry_at_warn_too() {
    let mut settings = json_settings();
    settings.filter = "warn".into();
    let (dispatch, guard, lines) = logger(settings);
    tracing::dispatcher::with_default(&dispatch, || {
        guard.log_filter().set("debug").unwrap();
        tracing::info!(target: "opentelemetry", "hidden");
        tracing::warn!(target: "opentelemetry", "shown");
    });
    assert_eq!(
        guard.log_filter().current(),
        "debug",
        "the filter reads as it was set"
    );
    let messages: Vec<_> = lines.json().iter().map(|l| l["message"].clone()).collect();
    assert_eq!(messages, [Value::from("shown")]);
}

#[test]
fn rate_limited_callsite_writes_n_then_a_suppressed_summary() {
    let mut settings = json_settings();
    settings.rate_limit.per_second = 3;
    let (dispatch, _guard, lines) = logger(settings);
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tracing::dispatcher::with_default(&dispatch, || {
            let log = |i: i64| tracing::info!(i, "flood");
            for i in 0..10 {
                log(i);
            }
            std::thread::sleep(Duration::from_millis(1100));
            log(10);
        });
    });
    let lines = lines.json();
    let flood = lines.iter().filter(|l| l["message"] == "flood").count();
    assert_eq!(flood, 4, "{lines:#?}");
    let summary = lines
        .iter()
        .find(|l| l["message"] == "suppressed 7 events")
        .unwrap();
    assert_eq!(summary["level"], "WARN");
    assert_eq!(summary["suppressed"], 7);
    assert!(summary["callsite"].as_str().unwrap().contains("logging.rs"));
    let counted = counter(&snapshotter, boost_tracing::LOG_SUPPRESSED_EVENTS_TOTAL);
    assert_eq!(counted, 7);
}

fn counter(snapshotter: &metrics_util::debugging::Snapshotter, name: &str) -> u64 {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == name)
        .map(|(.., value)| match value {
            metrics_util::debugging::DebugValue::Counter(n) => n,
            other => panic!("{other:?}"),
        })
        .sum()
}

/// A writer that never returns (until released), like a full pipe nobody reads.
struct Stuck(Arc<(Mutex<bool>, std::sync::Condvar)>);

impl Write for Stuck {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (released, cv) = &*self.0;
        let mut r = released.lock().unwrap();
        while !*r {
            r = cv.wait(r).unwrap();
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn blocked_writer_never_blocks_the_caller_and_drops_are_counted() {
    let mut settings = json_settings();
    settings.queue_lines = 100;
    settings.flush_timeout = Duration::from_millis(200);
    let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let (dispatch, guard) = builder(&settings, &identity())
        .ignore_rust_log()
        .writer(Stuck(gate.clone()))
        .build()
        .unwrap();
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let started = Instant::now();
    metrics::with_local_recorder(&recorder, || {
        tracing::dispatcher::with_default(&dispatch, || {
            for i in 0..10_000 {
                tracing::info!(i, "line");
            }
        });
    });
    let elapsed = started.elapsed();
    // 10k lines into a stuck writer: the caller only ever appends to a bounded queue.
    assert!(elapsed < Duration::from_secs(2), "blocked for {elapsed:?}");
    let dropped = guard.dropped_lines();
    // At most one batch was taken by the stuck thread plus `queue_lines` queued.
    assert!(dropped >= 10_000 - 200, "dropped {dropped}");
    assert_eq!(
        counter(&snapshotter, boost_tracing::LOG_DROPPED_LINES_TOTAL),
        dropped
    );

    // Dropping the guard gives up after flush_timeout instead of hanging.
    let started = Instant::now();
    drop(guard);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
}

#[test]
fn queued_writer_flushes_everything_on_guard_drop() {
    let lines = Lines::default();
    let (dispatch, guard) = builder(&json_settings(), &identity())
        .ignore_rust_log()
        .writer(lines.clone())
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..500 {
            tracing::info!(i, "queued");
        }
    });
    drop(guard);
    assert_eq!(lines.json().len(), 500);
}

#[test]
fn compact_and_pretty_are_human_readable_with_ids() {
    for (format, lines_per_event) in [(LogFormat::Compact, 1), (LogFormat::Pretty, 4)] {
        let mut settings = json_settings();
        settings.format = format;
        let (dispatch, _guard, lines) = logger(settings);
        tracing::dispatcher::with_default(&dispatch, || {
            let span = tracing::info_span!("checkout", order = 42);
            let _e = span.enter();
            tracing::info!(user = "ada", "order\nplaced");
        });
        let text = lines.text();
        assert_eq!(text.lines().count(), lines_per_event, "{format:?}:\n{text}");
        assert!(text.contains("INFO"), "{text}");
        assert!(text.contains("order\\nplaced"), "{text}");
        assert!(text.contains("user=\"ada\""), "{text}");
        assert!(text.contains("checkout{order=42}"), "{text}");
        assert!(text.contains("trace_id="), "{text}");
    }
}

#[test]
fn span_fields_recorded_later_appear_in_later_events() {
    let (dispatch, _guard, lines) = logger(json_settings());
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("call", status = tracing::field::Empty);
        let _e = span.enter();
        tracing::info!("before");
        span.record("status", 200_u64);
        tracing::info!("after");
    });
    let lines = lines.json();
    assert!(lines[0]["span"].get("status").is_none());
    assert_eq!(lines[1]["span"]["status"], 200);
}

/// Runs this test binary again with `RUST_LOG` set, and has the child check the filter.
#[test]
fn rust_log_overrides_the_settings_filter() {
    if let Ok(expected) = std::env::var("BOOST_TRACING_EXPECT_FILTER") {
        // The child: the builder reads RUST_LOG.
        let built = builder(&json_settings(), &identity())
            .writer(std::io::sink())
            .build();
        if expected == "invalid" {
            let error = built.expect_err("an invalid RUST_LOG is an error");
            let error = error.to_string();
            assert!(
                error.contains("RUST_LOG environment variable"),
                "the error says where the filter came from: {error}"
            );
            return;
        }
        let (_dispatch, guard) = built.unwrap();
        assert_eq!(guard.log_filter().current(), expected);
        return;
    }
    // The child runs this test, and exactly it: a filter that matched nothing
    // would pass vacuously.
    let child = |rust_log: &str, expect: &str| {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "rust_log_overrides_the_settings_filter",
                "--test-threads=1",
            ])
            .env("RUST_LOG", rust_log)
            .env("BOOST_TRACING_EXPECT_FILTER", expect)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child with RUST_LOG={rust_log:?}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    child("warn,logging=trace", "warn,logging=trace");
    // An invalid RUST_LOG is an error naming RUST_LOG (checked in the child).
    child("info,[broken", "invalid");
}

#[test]
fn log_lines_carry_the_upstream_trace_id_after_extract_even_with_export_off() {
    let (dispatch, _guard, lines) = logger(json_settings());
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap(),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        use boost_tracing::OpenTelemetrySpanExt as _;
        let span = tracing::info_span!("SayHello");
        span.set_parent(boost_tracing::propagation::extract_headers(&headers))
            .unwrap();
        span.in_scope(|| tracing::info!("handled"));
    });
    let line = &lines.json()[0];
    assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_ne!(
        line["span_id"], "00f067aa0ba902b7",
        "a new span id for this hop"
    );
    assert!(is_hex(&line["span_id"], 16));
}

/// Records the names of finished spans.
#[derive(Clone, Debug, Default)]
struct SpanNames(Arc<Mutex<Vec<String>>>);

impl opentelemetry_sdk::trace::SpanProcessor for SpanNames {
    fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {}
    fn on_end(&self, span: opentelemetry_sdk::trace::SpanData) {
        self.0.lock().unwrap().push(span.name.into_owned());
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// Runs a new root span and children of a sampled and of an unsampled remote parent under
/// `sample_ratio`; returns the names of the spans that were recorded.
fn recorded_spans(sample_ratio: f64) -> Vec<String> {
    use boost_tracing::OpenTelemetrySpanExt as _;
    let mut settings = json_settings();
    settings.otlp.sample_ratio = sample_ratio;
    let names = SpanNames::default();
    let (dispatch, guard) = builder(&settings, &identity())
        .ignore_rust_log()
        .blocking_writer(std::io::sink())
        .span_processor(names.clone())
        .build()
        .unwrap();
    let parent = |flags: &str| {
        let mut headers = http::HeaderMap::new();
        let traceparent = format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}");
        headers.insert("traceparent", traceparent.parse().unwrap());
        boost_tracing::propagation::extract_headers(&headers)
    };
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("new_root").in_scope(|| tracing::info!("x"));
        let span = tracing::info_span!("child_of_sampled");
        span.set_parent(parent("01")).unwrap();
        span.in_scope(|| tracing::info!("x"));
        drop(span);
        let span = tracing::info_span!("child_of_unsampled");
        span.set_parent(parent("00")).unwrap();
        span.in_scope(|| tracing::info!("x"));
    });
    drop(guard);
    let mut names = names.0.lock().unwrap().clone();
    names.sort();
    names
}

#[test]
fn sampler_is_parent_based_with_the_configured_ratio_for_new_traces() {
    assert_eq!(
        recorded_spans(1.0),
        ["child_of_sampled", "new_root"],
        "ratio 1: every new trace; a child follows its parent's decision"
    );
    assert_eq!(
        recorded_spans(0.0),
        ["child_of_sampled"],
        "ratio 0: no new trace, but a sampled parent is still followed"
    );
}

#[test]
fn a_huge_field_value_is_cut_to_the_bound_with_its_length_noted() {
    let mut settings = json_settings();
    settings.max_field_value_size = boost_config::ByteSize::kib(4);
    let (dispatch, _guard, lines) = logger(settings);
    let name = "n".repeat(1 << 20);
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("call", input = %name);
        let _s = span.enter();
        tracing::warn!(name = name.as_str(), debug = ?name, shown = %name, "lookup of {name} failed");
        tracing::info!(name = "ada", "small values are whole");
    });
    let text = lines.text();
    let first = text.lines().next().unwrap();
    assert!(first.len() < 32 * 1024, "a {} byte log line", first.len());
    let line = &lines.json()[0];
    let note = "…[truncated, 1048576 bytes]";
    let name_shown = line["name"].as_str().unwrap();
    assert!(name_shown.ends_with(note), "{name_shown}");
    assert!(name_shown.len() <= 4096 + note.len());
    assert!(name_shown.starts_with("nnnn"));
    // Debug adds the quotes: 2 bytes more.
    assert!(
        line["debug"]
            .as_str()
            .unwrap()
            .ends_with("…[truncated, 1048578 bytes]")
    );
    assert!(line["shown"].as_str().unwrap().ends_with(note));
    let message_note = format!(
        "…[truncated, {} bytes]",
        "lookup of ".len() + name.len() + " failed".len()
    );
    assert!(line["message"].as_str().unwrap().ends_with(&message_note));
    assert_eq!(lines.json()[1]["name"], "ada");
}
