//! The cardinality guard caps label sets per metric, folds the rest into
//! `other` and counts them (the warning: `cardinality_warning.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use boost_metrics::{CardinalityGuard, MetricsSettings};

fn settings(limit: usize) -> MetricsSettings {
    let mut settings = MetricsSettings::default();
    settings.cardinality_limit = limit;
    settings
}

fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

fn series_of<'a>(scrape: &'a str, name: &str) -> Vec<&'a str> {
    scrape
        .lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .collect()
}

#[test]
fn label_sets_beyond_the_limit_fold_into_other_and_are_counted() {
    let (recorder, handle) = common::build(&settings(3));
    metrics::with_local_recorder(&recorder, || {
        for user in 0..10 {
            metrics::counter!("logins_total", "user" => format!("u{user}"), "method" => "password")
                .increment(1);
        }
    });
    let scrape = handle.render();

    let logins = series_of(&scrape, "logins_total");
    assert_eq!(logins.len(), 4, "3 admitted + other:\n{scrape}");
    for user in 0..3 {
        let series = format!("logins_total{{user=\"u{user}\",method=\"password\"}}");
        assert_eq!(sample(&scrape, &series), Some(1.0), "{series} in\n{scrape}");
    }
    // Label keys are kept; every value becomes `other`.
    assert_eq!(
        sample(&scrape, r#"logins_total{user="other",method="other"}"#),
        Some(7.0)
    );
    assert_eq!(
        sample(
            &scrape,
            r#"metrics_cardinality_overflow_total{metric="logins_total"}"#
        ),
        Some(7.0)
    );
}

#[test]
fn admitted_label_sets_keep_recording_after_the_limit_is_reached() {
    let (recorder, handle) = common::build(&settings(2));
    metrics::with_local_recorder(&recorder, || {
        let first = metrics::histogram!("job_duration_seconds", "job" => "a");
        metrics::histogram!("job_duration_seconds", "job" => "b").record(0.1);
        metrics::histogram!("job_duration_seconds", "job" => "c").record(0.2);
        first.record(0.3);
        metrics::histogram!("job_duration_seconds", "job" => "a").record(0.3);
    });
    let scrape = handle.render();
    assert_eq!(
        sample(&scrape, r#"job_duration_seconds_count{job="a"}"#),
        Some(2.0)
    );
    assert_eq!(
        sample(&scrape, r#"job_duration_seconds_count{job="b"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&scrape, r#"job_duration_seconds_count{job="other"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&scrape, r#"job_duration_seconds_count{job="c"}"#),
        None
    );
}

#[test]
fn each_metric_has_its_own_budget() {
    let (recorder, handle) = common::build(&settings(2));
    metrics::with_local_recorder(&recorder, || {
        for name in ["a_total", "b_total"] {
            for v in ["x", "y"] {
                metrics::counter!(name, "v" => v).increment(1);
            }
        }
        metrics::counter!("c_total").increment(1);
    });
    let scrape = handle.render();
    assert!(!scrape.contains("other"), "{scrape}");
    assert!(
        !scrape.contains("metrics_cardinality_overflow_total{"),
        "{scrape}"
    );
    assert_eq!(series_of(&scrape, "a_total").len(), 2);
    assert_eq!(series_of(&scrape, "b_total").len(), 2);
}

#[test]
fn a_zero_limit_is_rejected_with_a_clear_error() {
    let error = boost_metrics::MetricsHandle::build(&settings(0), &common::identity()).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("`metrics.cardinality_limit` (set in code)")
            && message.contains("set it to at least 1"),
        "{error}"
    );
}

#[test]
fn the_guard_wraps_any_recorder() {
    let guard = CardinalityGuard::new(metrics::NoopRecorder, 0);
    assert_eq!(guard.limit(), 1, "0 is treated as 1");
    metrics::with_local_recorder(&guard, || {
        metrics::counter!("x_total", "k" => "1").increment(1);
        metrics::counter!("x_total", "k" => "2").increment(1);
    });
}

#[test]
fn concurrent_registrations_admit_exactly_the_limit() {
    let (recorder, handle) = common::build(&settings(50));
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let recorder = recorder.clone();
            scope.spawn(move || {
                metrics::with_local_recorder(&recorder, || {
                    for i in 0..100 {
                        metrics::counter!("requests_total", "path" => format!("/t{thread}/{i}"))
                            .increment(1);
                    }
                });
            });
        }
    });
    let scrape = handle.render();
    let requests = series_of(&scrape, "requests_total");
    assert_eq!(requests.len(), 51, "50 admitted + other");
    assert_eq!(
        sample(&scrape, r#"requests_total{path="other"}"#),
        Some(750.0)
    );
    assert_eq!(
        sample(
            &scrape,
            r#"metrics_cardinality_overflow_total{metric="requests_total"}"#
        ),
        Some(750.0)
    );
    let total: f64 = requests
        .iter()
        .map(|line| line.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 800.0, "no increment is lost");
}
