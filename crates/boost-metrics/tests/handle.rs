//! `MetricsHandle` is shareable and every observation is in the next scrape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use boost_metrics::{MetricsHandle, MetricsRecorder, MetricsSettings};

#[test]
fn handle_and_recorder_can_be_shared_across_threads() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<MetricsHandle>();
    shareable::<MetricsRecorder>();
}

#[test]
fn every_observation_is_in_the_next_scrape_with_no_upkeep() {
    let (recorder, handle) = common::build(&MetricsSettings::default());
    let wait = metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("jobs_wait_seconds").record(0.2);
        metrics::histogram!("jobs_wait_seconds")
    });
    // Two threads on the same kept handle, nothing drained in between.
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for _ in 0..10_000 {
                    wait.record(0.2);
                }
            });
        }
    });
    let scrape = handle.render();
    assert!(
        scrape.contains("jobs_wait_seconds_count 20001\n"),
        "{scrape}"
    );
    assert!(
        scrape.contains("jobs_wait_seconds_bucket{le=\"0.25\"} 20001\n"),
        "{scrape}"
    );
    assert!(
        scrape.contains("jobs_wait_seconds_bucket{le=\"0.1\"} 0\n"),
        "{scrape}"
    );
    let sum: f64 = scrape
        .lines()
        .find_map(|line| line.strip_prefix("jobs_wait_seconds_sum "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((sum - 20_001.0 * 0.2).abs() < 1e-6, "{sum}");
}

#[test]
fn debug_output_stays_short_however_many_series_there_are() {
    let (recorder, handle) = common::build(&MetricsSettings::default());
    metrics::with_local_recorder(&recorder, || {
        for i in 0..500 {
            metrics::counter!("requests_total", "path" => format!("/p{i}")).increment(1);
        }
    });
    let debug = format!("{handle:?}");
    assert!(debug.len() < 300, "{debug}");
    assert!(debug.contains("limit: 1000"), "{debug}");
}
