//! The kit's own store writes the same samples metrics-exporter-prometheus
//! (the exporter it replaced) writes for the same recordings: names, label
//! order and escaping, bucket bounds, counts, sums, gauge values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use boost_metrics::conventions::{self, DURATION_BUCKETS_SECONDS};
use boost_metrics::{MetricKind, MetricsSettings};
use metrics::Recorder;
use metrics_exporter_prometheus::PrometheusBuilder;

/// What services record, through whichever recorder is current.
fn record() {
    for def in conventions::METRICS {
        match def.kind {
            MetricKind::Counter => def.register_counter(&[("k", "v")]).increment(3),
            MetricKind::Gauge => def.register_gauge(&[("k", "v")]).set(-2.5),
            _ => {
                let h = def.register_histogram(&[("k", "v")]);
                for value in [0.003, 0.04, 0.9, 12.0, 0.005] {
                    h.record(value);
                }
            }
        }
    }
    metrics::counter!("jobs_done", "queue" => "a\"b\\c\nd").increment(1);
    metrics::gauge!("queue_depth", "queue" => "x", "shard" => "7").set(1e6);
    metrics::gauge!("queue_depth", "queue" => "y", "shard" => "8").increment(0.25);
    metrics::histogram!("jobs_wait_seconds").record(0.2);
}

/// Sample lines (no comments, no blank lines), sorted.
fn samples(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_store_writes_what_the_exporter_wrote() {
    let exporter = PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets(DURATION_BUCKETS_SECONDS)
        .unwrap()
        .build_recorder();
    for def in conventions::METRICS {
        def.describe_to(&exporter as &dyn Recorder);
    }
    let exporter_handle = exporter.handle();
    metrics::with_local_recorder(&exporter, record);

    let mut settings = MetricsSettings::default();
    settings.process_metrics = false;
    settings.runtime_metrics = false;
    let (recorder, handle) = common::build(&settings);
    metrics::with_local_recorder(&recorder, record);

    let theirs = samples(&exporter_handle.render());
    let ours: BTreeSet<String> = samples(&handle.render())
        .into_iter()
        .filter(|line| !line.starts_with("service_info{service_name="))
        .collect();
    assert!(theirs.len() > 100, "{theirs:#?}");
    let missing: Vec<_> = theirs.difference(&ours).collect();
    let extra: Vec<_> = ours.difference(&theirs).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "only the exporter wrote:\n{missing:#?}\nonly ours wrote:\n{extra:#?}"
    );
}
