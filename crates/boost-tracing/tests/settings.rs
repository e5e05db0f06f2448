//! `[tracing]` settings: every value that cannot work is a problem under its key, reported
//! all at once, by the config loader and by `init`/`builder` alike.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use boost_config::{
    ConfigError, Docs, Loader, Problems, Secret, ServiceIdentity, Source, Validate,
};
use boost_tracing::{Error, TracingSettings, builder};
use serde::{Deserialize, Serialize};

/// `(key, message)` of every problem of `settings` under `[tracing]`.
fn problems(settings: &TracingSettings) -> Vec<(String, String)> {
    Problems::of("tracing", settings)
        .iter()
        .map(|(key, message)| (key.to_owned(), message.to_owned()))
        .collect()
}

fn keys(problems: &[(String, String)]) -> Vec<&str> {
    problems.iter().map(|(key, _)| key.as_str()).collect()
}

/// The one problem of `settings`, which must be under `key`: its message.
fn only_problem(settings: &TracingSettings, key: &str) -> String {
    let problems = problems(settings);
    assert_eq!(keys(&problems), [key], "{problems:?}");
    problems[0].1.clone()
}

#[test]
fn the_defaults_have_no_problems() {
    assert!(problems(&TracingSettings::default()).is_empty());
    let mut exporting = TracingSettings::default();
    exporting.otlp.enabled = true;
    assert!(problems(&exporting).is_empty());
}

#[test]
fn zero_flush_timeout_is_a_problem_naming_the_key() {
    let mut settings = TracingSettings::default();
    settings.flush_timeout = Duration::ZERO;
    let message = only_problem(&settings, "tracing.flush_timeout");
    assert!(message.contains("is 0s"), "{message}");
    assert!(message.contains("the default is 2s"), "{message}");
}

#[test]
fn zero_otlp_timeout_and_scheduled_delay_are_problems_naming_the_key() {
    let mut settings = TracingSettings::default();
    settings.otlp.timeout = Duration::ZERO;
    only_problem(&settings, "tracing.otlp.timeout");

    let mut settings = TracingSettings::default();
    settings.otlp.scheduled_delay = Duration::ZERO;
    only_problem(&settings, "tracing.otlp.scheduled_delay");
}

#[test]
fn waits_longer_than_five_minutes_are_problems() {
    let hour = Duration::from_secs(3600);
    let mut settings = TracingSettings::default();
    settings.flush_timeout = hour;
    settings.otlp.timeout = hour;
    settings.otlp.scheduled_delay = hour;
    let problems = problems(&settings);
    // A section's problems come before its parent's own rules (the derive checks fields first).
    assert_eq!(
        keys(&problems),
        [
            "tracing.otlp.timeout",
            "tracing.otlp.scheduled_delay",
            "tracing.flush_timeout"
        ]
    );
    assert!(
        problems[2].1.contains("is 1h, longer than 5m"),
        "{problems:?}"
    );

    let mut settings = TracingSettings::default();
    settings.flush_timeout = Duration::from_secs(300);
    assert!(self::problems(&settings).is_empty(), "5m itself is fine");
}

#[test]
fn sample_ratio_outside_zero_to_one_is_a_problem() {
    for ratio in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
        let mut settings = TracingSettings::default();
        settings.otlp.sample_ratio = ratio;
        let message = only_problem(&settings, "tracing.otlp.sample_ratio");
        assert!(
            message.contains("between 0.0 (none) and 1.0 (all)"),
            "{message}"
        );
    }
    for ratio in [0.0, 0.25, 1.0] {
        let mut settings = TracingSettings::default();
        settings.otlp.sample_ratio = ratio;
        assert!(problems(&settings).is_empty(), "{ratio}");
    }
}

#[test]
fn an_export_batch_larger_than_the_queue_or_zero_is_a_problem() {
    let mut settings = TracingSettings::default();
    settings.otlp.max_queue_size = 100;
    settings.otlp.max_export_batch_size = 512;
    let message = only_problem(&settings, "tracing.otlp.max_export_batch_size");
    assert!(
        message.contains("is 512 but max_queue_size is 100"),
        "{message}"
    );

    settings.otlp.max_export_batch_size = 0;
    only_problem(&settings, "tracing.otlp.max_export_batch_size");

    settings.otlp.max_export_batch_size = 100;
    assert!(
        problems(&settings).is_empty(),
        "a batch as large as the queue is fine"
    );
}

#[test]
fn a_zero_or_huge_span_queue_is_a_problem() {
    let mut settings = TracingSettings::default();
    settings.otlp.max_queue_size = 0;
    // The batch size is not reported on top: it is the queue that is wrong.
    only_problem(&settings, "tracing.otlp.max_queue_size");

    settings.otlp.max_queue_size = 50_000_000;
    let message = only_problem(&settings, "tracing.otlp.max_queue_size");
    assert!(message.contains("allocated up front"), "{message}");
}

#[test]
fn zero_queue_lines_is_a_problem_naming_the_key() {
    let mut settings = TracingSettings::default();
    settings.queue_lines = 0;
    only_problem(&settings, "tracing.queue_lines");
}

#[test]
fn an_invalid_filter_is_a_problem_before_anything_starts() {
    let mut settings = TracingSettings::default();
    settings.filter = "info,[unclosed".into();
    let message = only_problem(&settings, "tracing.filter");
    assert!(message.contains("RUST_LOG syntax"), "{message}");
}

#[test]
fn an_empty_redact_entry_is_a_problem_naming_its_index() {
    let mut settings = TracingSettings::default();
    settings.redact = vec!["password".into(), " ".into()];
    only_problem(&settings, "tracing.redact.1");
}

#[test]
fn an_unusable_endpoint_is_a_problem_when_export_is_on_without_showing_credentials() {
    for endpoint in [
        "collector:4317",
        "ftp://svc:CANARY_PW@collector:4317",
        "http://svc:CANARY_PW@[::1",
    ] {
        let mut settings = TracingSettings::default();
        settings.otlp.endpoint = endpoint.into();
        assert!(problems(&settings).is_empty(), "export is off: {endpoint}");
        settings.otlp.enabled = true;
        let message = only_problem(&settings, "tracing.otlp.endpoint");
        assert!(!message.contains("CANARY_PW"), "{message}");
        assert!(message.contains("OTLP/gRPC URL"), "{message}");
    }
}

#[test]
fn an_unusable_header_is_a_problem_without_showing_its_value() {
    let mut settings = TracingSettings::default();
    settings.otlp.headers = BTreeMap::from([
        ("x_api_key".to_owned(), Secret::new("fine".to_owned())),
        ("bad name".to_owned(), Secret::new("fine".to_owned())),
        ("trace-bin".to_owned(), Secret::new("fine".to_owned())),
        (
            "x-token".to_owned(),
            Secret::new("CANARY\nVALUE".to_owned()),
        ),
    ]);
    let problems = problems(&settings);
    assert_eq!(
        keys(&problems),
        [
            "tracing.otlp.headers.bad name",
            "tracing.otlp.headers.trace-bin",
            "tracing.otlp.headers.x-token"
        ]
    );
    assert!(
        problems[2].1.contains("not printable ASCII"),
        "{problems:?}"
    );
    assert!(!format!("{problems:?}").contains("CANARY"), "{problems:?}");
}

fn broken() -> TracingSettings {
    let mut settings = TracingSettings::default();
    settings.flush_timeout = Duration::ZERO;
    settings.queue_lines = 0;
    settings.otlp.timeout = Duration::ZERO;
    settings.otlp.sample_ratio = 2.0;
    settings.otlp.max_export_batch_size = 4096;
    settings
}

const BROKEN_KEYS: [&str; 5] = [
    "tracing.otlp.timeout",
    "tracing.otlp.max_export_batch_size",
    "tracing.otlp.sample_ratio",
    "tracing.queue_lines",
    "tracing.flush_timeout",
];

#[test]
fn several_problems_are_listed_at_once() {
    assert_eq!(keys(&problems(&broken())), BROKEN_KEYS);
}

#[test]
fn building_with_broken_settings_fails_with_the_same_problem_list() {
    let identity = ServiceIdentity::new("hello-service", "1.0.0");
    let error = builder(&broken(), &identity)
        .writer(std::io::sink())
        .build()
        .unwrap_err();
    let Error::Config(config) = &error else {
        panic!("expected Error::Config, got {error:?}");
    };
    let found: Vec<&str> = config.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(found, BROKEN_KEYS);
    assert!(config.problems().iter().all(|p| p.source == Source::Code));
    assert!(
        error.to_string().starts_with(
            "configuration for the tracing of hello-service failed validation (5 problems)"
        ),
        "{error}"
    );
}

/// A service's settings with the kit's `[tracing]` section.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ServiceSettings {
    tracing: TracingSettings,
}

impl Validate for ServiceSettings {
    fn validate(&self, problems: &mut Problems) {
        problems.check("tracing", &self.tracing);
    }
}

#[test]
fn the_loader_reports_tracing_problems_under_their_key_and_layer() {
    let error = Loader::new("svc")
        .dir("no/such/dir")
        .env_vars([
            ("SVC__TRACING__FLUSH_TIMEOUT", "0s"),
            ("SVC__TRACING__OTLP__SAMPLE_RATIO", "1.5"),
        ])
        .load::<ServiceSettings>()
        .unwrap_err();
    assert!(matches!(error, ConfigError::Validation { .. }), "{error:?}");
    let found: Vec<(&str, String)> = error
        .problems()
        .iter()
        .map(|p| (p.key.as_str(), p.source.to_string()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "tracing.otlp.sample_ratio",
                "env SVC__TRACING__OTLP__SAMPLE_RATIO".to_owned()
            ),
            (
                "tracing.flush_timeout",
                "env SVC__TRACING__FLUSH_TIMEOUT".to_owned()
            ),
        ]
    );
}

/// Every key of `table` (dotted, under `prefix`), sub-tables included.
fn all_keys(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if let Some(inner) = value.as_table() {
            all_keys(inner, &path, out);
        }
        out.push(path);
    }
}

#[test]
fn every_key_is_documented_with_its_default() {
    let docs = Docs::of::<TracingSettings>();
    let mut keys = Vec::new();
    all_keys(
        &toml::Table::try_from(TracingSettings::default()).unwrap(),
        "",
        &mut keys,
    );
    assert!(keys.contains(&"otlp.sample_ratio".to_owned()), "{keys:?}");
    for key in keys {
        let doc = docs.get(&key).unwrap_or_default();
        assert!(
            doc.contains("Default:"),
            "`{key}` must say its default: {doc:?}"
        );
    }
}
