//! `MetricsHandle` is shareable and keeps histograms drained.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use boost_metrics::{Error, MetricsHandle, MetricsRecorder, MetricsSettings};

#[test]
fn handle_and_recorder_can_be_shared_across_threads() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<MetricsHandle>();
    shareable::<MetricsRecorder>();
}

#[test]
fn spawn_upkeep_outside_a_runtime_is_an_error_not_a_panic() {
    let (_recorder, handle) = common::build(&MetricsSettings::default());
    let error = handle.spawn_upkeep(Duration::from_secs(5)).unwrap_err();
    assert!(matches!(error, Error::NoRuntime));
    assert!(error.to_string().contains("spawn_upkeep"), "{error}");
    assert!(error.to_string().contains("run_upkeep"), "{error}");
}

#[test]
fn upkeep_runs_in_the_background_and_render_sees_every_sample() {
    let (recorder, handle) = common::build(&MetricsSettings::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let upkeep = handle.spawn_upkeep(Duration::from_millis(10)).unwrap();
        let other = handle.spawn_upkeep(Duration::from_millis(10)).unwrap();
        metrics::with_local_recorder(&recorder, || {
            for _ in 0..100 {
                metrics::histogram!("jobs_wait_seconds").record(0.2);
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!upkeep.is_finished());
        upkeep.abort();
        other.abort();
    });
    handle.run_upkeep();
    let scrape = handle.render();
    assert!(scrape.contains("jobs_wait_seconds_count 100\n"), "{scrape}");
    assert!(
        scrape.contains("jobs_wait_seconds_bucket{le=\"0.25\"} 100\n"),
        "{scrape}"
    );
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
