//! The scrape is well-formed: every family has HELP and TYPE, durations are
//! histograms with the semconv buckets, never summaries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use boost_metrics::conventions::{self, DURATION_BUCKETS_SECONDS};
use boost_metrics::{Error, MetricDef, MetricKind, MetricsHandle, MetricsSettings, describe_all};

/// HELP and TYPE per family name, and the family of every sample line.
struct Parsed {
    help: BTreeMap<String, String>,
    kind: BTreeMap<String, String>,
    sample_families: BTreeSet<String>,
}

fn parse(scrape: &str) -> Parsed {
    let mut help = BTreeMap::new();
    let mut kind = BTreeMap::new();
    let mut sample_names = Vec::new();
    for line in scrape.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, text) = rest.split_once(' ').unwrap();
            assert!(
                help.insert(name.to_owned(), text.to_owned()).is_none(),
                "two HELP for {name}"
            );
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, t) = rest.split_once(' ').unwrap();
            assert!(
                kind.insert(name.to_owned(), t.to_owned()).is_none(),
                "two TYPE for {name}"
            );
        } else {
            assert!(!line.starts_with('#'), "unexpected comment {line}");
            let name = line.split(['{', ' ']).next().unwrap();
            sample_names.push(name.to_owned());
        }
    }
    let sample_families = sample_names
        .into_iter()
        .map(|name| {
            if kind.contains_key(&name) {
                return name;
            }
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    let family = name.strip_suffix(suffix)?;
                    (kind.get(family)? == "histogram").then(|| family.to_owned())
                })
                .unwrap_or(name)
        })
        .collect();
    Parsed {
        help,
        kind,
        sample_families,
    }
}

#[test]
fn every_sample_belongs_to_a_family_with_help_and_type() {
    let scrape = common::realistic_scrape();
    let parsed = parse(&scrape);
    assert!(parsed.sample_families.len() > 15, "{scrape}");
    for family in &parsed.sample_families {
        assert!(parsed.kind.contains_key(family), "no # TYPE for {family}");
        let help = parsed
            .help
            .get(family)
            .unwrap_or_else(|| panic!("no # HELP for {family}"));
        assert!(!help.trim().is_empty(), "empty HELP for {family}");
    }
}

#[test]
fn every_conventions_metric_is_described_with_its_declared_type() {
    let (recorder, handle) = common::build(&MetricsSettings::default());
    metrics::with_local_recorder(&recorder, || {
        for def in conventions::METRICS {
            let labels = [("k", "v")];
            match def.kind {
                MetricKind::Counter => def.register_counter(&labels).increment(1),
                MetricKind::Gauge => def.register_gauge(&labels).set(1.0),
                MetricKind::Histogram => def.register_histogram(&labels).record(0.1),
                _ => unreachable!("new kind"),
            }
        }
    });
    let parsed = parse(&handle.render());
    for def in conventions::METRICS {
        let expected_type = match def.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            _ => "histogram",
        };
        assert_eq!(
            parsed.kind.get(def.name).map(String::as_str),
            Some(expected_type),
            "{}",
            def.name
        );
        assert_eq!(
            parsed.help.get(def.name).map(String::as_str),
            Some(def.help),
            "{}",
            def.name
        );
        if def.kind == MetricKind::Counter {
            assert!(
                def.name.ends_with("_total"),
                "{} is a counter without _total",
                def.name
            );
        }
        if def.unit == Some(metrics::Unit::Seconds) {
            assert!(
                def.name.ends_with("_seconds"),
                "{} lacks its unit suffix",
                def.name
            );
        }
    }
}

#[test]
fn metrics_other_crates_record_are_declared_in_conventions() {
    // The names boost-rpc, boost-http, boost-cache and boost-tracing record (boost-tracing
    // keeps its own literals; boost-service's tests check they match).
    let recorded_elsewhere = [
        "rpc_server_call_duration_seconds",
        "rpc_server_in_flight_calls",
        "rpc_client_call_duration_seconds",
        "rpc_client_attempts_total",
        "rpc_client_retries_total",
        "rpc_client_retry_budget_exhausted_total",
        "rpc_client_ejections_total",
        "rpc_client_endpoints",
        "cache_requests_total",
        "cache_loads_total",
        "cache_load_duration_seconds",
        "cache_evictions_total",
        "cache_entries",
        "log_dropped_lines_total",
        "log_suppressed_events_total",
        "tls_certificate_expiry_timestamp_seconds",
        "tls_reload_total",
        "tls_handshake_failures_total",
        "rpc_server_authorization_total",
        "server_rate_limited_total",
        "server_rate_limit_keys",
        "http_server_request_duration_seconds",
        "http_client_request_duration_seconds",
        "http_client_retries_total",
        "http_client_ejections_total",
        "db_client_operation_duration_seconds",
        "db_client_connection_count",
        "db_client_connection_max",
        "db_client_connection_pending_requests",
        "db_client_connection_wait_time_seconds",
        "db_client_transaction_retries_total",
        "db_client_retries_total",
    ];
    let declared: BTreeSet<&str> = conventions::METRICS.iter().map(|def| def.name).collect();
    for name in recorded_elsewhere {
        assert!(
            declared.contains(name),
            "{name} is not in conventions::METRICS"
        );
    }
}

#[test]
fn every_conventions_metric_has_a_unit_and_a_real_help_sentence() {
    let mut names = BTreeSet::new();
    for def in conventions::METRICS {
        assert!(names.insert(def.name), "{} is declared twice", def.name);
        if def.name != conventions::SERVICE_INFO {
            assert!(def.unit.is_some(), "{} has no unit", def.name);
        }
        assert!(
            def.help.len() > 20 && def.help.ends_with('.') && !def.help.contains(def.name),
            "{}: HELP should be a sentence saying what is measured: {:?}",
            def.name,
            def.help
        );
    }
}

#[test]
fn no_metric_in_a_realistic_scrape_has_the_placeholder_help_but_the_undeclared_ones() {
    let parsed = parse(&common::realistic_scrape());
    let placeholders: BTreeSet<&str> = parsed
        .help
        .iter()
        .filter(|(_, help)| help.contains("no description was given"))
        .map(|(name, _)| name.as_str())
        .collect();
    // Only the two metrics record_realistic records without declaring them.
    assert_eq!(
        placeholders,
        BTreeSet::from(["jobs_queue_depth", "jobs_retried_total"])
    );
    for name in [
        "rpc_client_attempts_total",
        "rpc_client_retries_total",
        "rpc_client_retry_budget_exhausted_total",
        "rpc_client_ejections_total",
        "rpc_client_endpoints",
        "log_suppressed_events_total",
    ] {
        assert!(
            parsed.help.contains_key(name),
            "{name} is not in the scrape"
        );
    }
}

#[test]
fn histograms_use_the_semconv_duration_buckets_and_never_summaries() {
    let scrape = common::realistic_scrape();
    assert!(!scrape.contains(" summary\n"), "{scrape}");
    assert!(!scrape.contains("quantile="), "{scrape}");

    let expected: Vec<String> = DURATION_BUCKETS_SECONDS
        .iter()
        .map(|b| b.to_string())
        .chain(["+Inf".to_owned()])
        .collect();
    let prefix = r#"rpc_server_call_duration_seconds_bucket{rpc_system_name="grpc",rpc_method="hello.v1.Greeter/SayHello",rpc_status_code="OK",le=""#;
    let les: Vec<String> = scrape
        .lines()
        .filter_map(|line| line.strip_prefix(prefix))
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect();
    assert_eq!(les, expected);
    assert!(scrape.contains("# TYPE cache_load_duration_seconds histogram"));
}

#[test]
fn a_histogram_nobody_configured_is_still_a_histogram() {
    let (recorder, handle) = common::build(&MetricsSettings::default());
    metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("jobs_wait_seconds").record(Duration::from_millis(20));
    });
    let scrape = handle.render();
    assert!(
        scrape.contains("# TYPE jobs_wait_seconds histogram"),
        "{scrape}"
    );
    assert!(
        scrape.contains(r#"jobs_wait_seconds_bucket{le="0.025"} 1"#),
        "{scrape}"
    );
}

#[test]
fn buckets_can_be_overridden_per_metric() {
    let mut settings = MetricsSettings::default();
    settings
        .buckets
        .insert("payload_size_bytes".into(), vec![100.0, 1000.0]);
    let (recorder, handle) = common::build(&settings);
    metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("payload_size_bytes").record(500.0);
    });
    let scrape = handle.render();
    let les: Vec<&str> = scrape
        .lines()
        .filter(|line| line.starts_with("payload_size_bytes_bucket"))
        .collect();
    assert_eq!(
        les,
        [
            r#"payload_size_bytes_bucket{le="100"} 0"#,
            r#"payload_size_bytes_bucket{le="1000"} 1"#,
            r#"payload_size_bytes_bucket{le="+Inf"} 1"#,
        ]
    );
}

#[test]
fn unusable_buckets_are_rejected_naming_the_metric() {
    for buckets in [
        vec![],
        vec![1.0, f64::NAN],
        vec![0.1, 1.0, 0.5],
        vec![0.1, 0.1, 1.0],
    ] {
        let mut settings = MetricsSettings::default();
        settings
            .buckets
            .insert("payload_size_bytes".into(), buckets);
        let error = MetricsHandle::build(&settings, &common::identity()).unwrap_err();
        let Error::Config(config) = &error else {
            panic!("expected Error::Config, got {error:?}");
        };
        let keys: Vec<&str> = config.problems().iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["metrics.buckets.payload_size_bytes"], "{error}");
        assert!(
            error
                .to_string()
                .contains("`metrics.buckets.payload_size_bytes` (set in code)"),
            "{error}"
        );
    }
}

#[test]
fn a_metric_declared_once_gets_its_help_and_unit() {
    const JOBS: MetricDef = MetricDef::counter("jobs_done_total", "Jobs finished.");
    const WAIT: MetricDef =
        MetricDef::histogram("jobs_wait", "Time a job waits.").with_unit(metrics::Unit::Seconds);
    let (recorder, handle) = common::build(&MetricsSettings::default());
    metrics::with_local_recorder(&recorder, || {
        describe_all(&[JOBS, WAIT]);
        JOBS.register_counter(&[("queue", "default")]).increment(2);
        WAIT.register_histogram(&[]).record(0.5);
    });
    let scrape = handle.render();
    assert!(
        scrape.contains("# HELP jobs_done_total Jobs finished.\n"),
        "{scrape}"
    );
    assert!(
        scrape.contains(r#"jobs_done_total{queue="default"} 2"#),
        "{scrape}"
    );
    // The unit becomes the suffix the name lacked.
    assert!(
        scrape.contains("# HELP jobs_wait_seconds Time a job waits.\n"),
        "{scrape}"
    );
    assert!(scrape.contains("jobs_wait_seconds_count 1"), "{scrape}");
}

#[test]
fn counters_without_total_get_it() {
    let (recorder, handle) = common::build(&MetricsSettings::default());
    metrics::with_local_recorder(&recorder, || metrics::counter!("retries").increment(1));
    assert!(handle.render().contains("\nretries_total 1\n"));
}

#[test]
fn a_metric_recorded_without_description_still_gets_a_help_line() {
    let (recorder, handle) = common::build(&MetricsSettings::default());
    metrics::with_local_recorder(&recorder, || {
        metrics::gauge!("queue_depth", "queue" => "a").set(1.0);
    });
    let scrape = handle.render();
    let help = scrape
        .lines()
        .find(|l| l.starts_with("# HELP queue_depth "))
        .expect("a HELP line");
    assert!(
        help.contains("MetricDef"),
        "it says how to describe it properly: {help}"
    );
}
