//! `[metrics]` settings: defaults that work, typos rejected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use boost_config::{Docs, Problems};
use boost_metrics::{Error, MetricsHandle, MetricsSettings, conventions};

#[test]
fn an_empty_section_gives_the_documented_defaults() {
    let settings: MetricsSettings = toml::from_str("").unwrap();
    assert_eq!(settings, MetricsSettings::default());
    assert_eq!(settings.cardinality_limit, 1000);
    assert!(settings.process_metrics);
    assert!(settings.runtime_metrics);
    assert!(settings.buckets.is_empty());
}

#[test]
fn unknown_keys_are_rejected() {
    let error = toml::from_str::<MetricsSettings>("cardinality_limt = 10").unwrap_err();
    assert!(error.to_string().contains("cardinality_limt"), "{error}");
}

#[test]
fn settings_round_trip_through_serde() {
    let mut settings = MetricsSettings::default();
    settings.cardinality_limit = 50;
    settings
        .buckets
        .insert("payload_size_bytes".into(), vec![1.0, 10.0]);
    let json = serde_json::to_string(&settings).unwrap();
    assert_eq!(
        serde_json::from_str::<MetricsSettings>(&json).unwrap(),
        settings
    );
}

/// `(key, message)` of every problem `MetricsHandle::build` reports for `settings`.
fn problems(settings: &MetricsSettings) -> Vec<(String, String)> {
    match MetricsHandle::build(settings, &common::identity()) {
        Err(Error::Config(error)) => error
            .problems()
            .iter()
            .map(|p| (p.key.clone(), p.to_string()))
            .collect(),
        Err(other) => panic!("expected Error::Config, got {other:?}"),
        Ok(_) => panic!("expected the settings to be rejected"),
    }
}

fn with_buckets(metric: &str, bounds: &[f64]) -> MetricsSettings {
    let mut settings = MetricsSettings::default();
    settings.buckets.insert(metric.into(), bounds.to_vec());
    settings
}

#[test]
fn zero_cardinality_limit_is_a_problem_naming_the_key() {
    let mut settings = MetricsSettings::default();
    settings.cardinality_limit = 0;
    let problems = problems(&settings);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, "metrics.cardinality_limit");
    assert!(problems[0].1.contains("at least 1"), "{problems:?}");
}

#[test]
fn buckets_that_are_empty_not_finite_or_not_strictly_increasing_are_problems() {
    for (bounds, says) in [
        (&[][..], "is empty"),
        (&[1.0, f64::NAN][..], "NaN is not a finite number"),
        (&[1.0, f64::INFINITY][..], "inf is not a finite number"),
        (&[0.1, 1.0, 0.5][..], "0.5 comes after 1"),
        (&[0.1, 0.1, 1.0][..], "0.1 comes after 0.1"),
    ] {
        let problems = problems(&with_buckets("payload_size_bytes", bounds));
        assert_eq!(problems.len(), 1, "{bounds:?}: {problems:?}");
        assert_eq!(problems[0].0, "metrics.buckets.payload_size_bytes");
        assert!(problems[0].1.contains(says), "{bounds:?}: {problems:?}");
    }
}

#[test]
fn buckets_for_a_name_that_is_not_a_prometheus_metric_name_are_a_problem() {
    for name in ["payload size", "http.server.duration", "2xx_latency", ""] {
        let problems = problems(&with_buckets(name, &[1.0, 2.0]));
        assert_eq!(problems.len(), 1, "{name:?}: {problems:?}");
        assert_eq!(problems[0].0, format!("metrics.buckets.{name}"));
        assert!(
            problems[0].1.contains("is not a Prometheus metric name"),
            "{problems:?}"
        );
    }
}

#[test]
fn buckets_for_a_counter_a_gauge_or_a_bucket_series_are_a_problem() {
    for (name, says) in [
        (conventions::CACHE_REQUESTS_TOTAL, "is a counter"),
        (conventions::CACHE_ENTRIES, "is a gauge"),
        (
            conventions::PROCESS_RESIDENT_MEMORY_BYTES,
            "process or runtime metric",
        ),
        (
            "payload_size_bytes_bucket",
            "give the histogram's own name, `payload_size_bytes`",
        ),
        ("jobs_done_total", "counter's name"),
    ] {
        let problems = problems(&with_buckets(name, &[1.0, 2.0]));
        assert_eq!(problems.len(), 1, "{name}: {problems:?}");
        assert_eq!(problems[0].0, format!("metrics.buckets.{name}"));
        assert!(problems[0].1.contains(says), "{name}: {problems:?}");
    }
}

#[test]
fn buckets_for_a_kit_histogram_or_a_service_histogram_are_fine() {
    for name in [
        conventions::RPC_SERVER_CALL_DURATION,
        "payload_size_bytes",
        "ns:job_wait",
    ] {
        assert!(
            Problems::of("metrics", &with_buckets(name, &[0.1, 1.0])).is_empty(),
            "{name}"
        );
    }
}

#[test]
fn every_problem_is_listed_at_once_as_the_loader_would() {
    let mut settings = with_buckets("payload_size_bytes", &[]);
    settings.cardinality_limit = 0;
    settings
        .buckets
        .insert(conventions::CACHE_ENTRIES.into(), vec![2.0, 1.0]);
    let error = MetricsHandle::build(&settings, &common::identity()).unwrap_err();
    let Error::Config(config) = &error else {
        panic!("expected Error::Config, got {error:?}");
    };
    let keys: Vec<&str> = config.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "metrics.cardinality_limit",
            "metrics.buckets.cache_entries",
            "metrics.buckets.cache_entries",
            "metrics.buckets.payload_size_bytes",
        ]
    );
    assert!(
        error.to_string().starts_with(
            "configuration for the metrics of hello-service failed validation (4 problems)"
        ),
        "{error}"
    );
    let direct = Problems::of("metrics", &settings);
    assert_eq!(direct.keys().collect::<Vec<_>>(), keys);
}

#[test]
fn every_key_is_documented_with_its_default() {
    let docs = Docs::of::<MetricsSettings>();
    let defaults = toml::Table::try_from(MetricsSettings::default()).unwrap();
    let mut keys: Vec<&str> = defaults.keys().map(String::as_str).collect();
    keys.push("buckets"); // an empty map serialises as an empty table
    for key in keys {
        let doc = docs.get(key).unwrap_or_default();
        assert!(
            doc.contains("Default:"),
            "`{key}` must say its default: {doc:?}"
        );
    }
}
