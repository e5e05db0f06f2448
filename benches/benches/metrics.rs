//! Metrics hot paths, raw library vs team-boost, in the same run.
//!
//! 1. `metrics_record`: one RPC-style observation — a duration histogram and a
//!    counter, 3 labels each (`rpc_system_name`, `rpc_method`, `rpc_status_code`,
//!    method and status not literals, as in a real server):
//!    - `raw_macros`: `histogram!(…).record()` + `counter!(…).increment()`
//!      on a bare `metrics-exporter-prometheus` recorder (target reference);
//!    - `ours_handles`: [`RpcMetrics`] method handles + a [`MetricDef`] counter
//!      handle obtained once, on our guarded recorder;
//!    - `ours_macros`: the same macros as `raw_macros`, on our guarded recorder
//!      (the cardinality guard's cost on the macro path);
//!    - `raw_handles`: exporter handles obtained once (the floor).
//! 2. `metrics_render_1k` / `metrics_render_10k`: one scrape of ~1k / ~10k
//!    time series (sample lines; label sets cycle counter, counter, gauge,
//!    histogram with the 14 duration buckets): the exporter's
//!    `PrometheusHandle::render` vs `MetricsHandle::render` (which adds
//!    `service_info` and the process metrics).
//!
//! Run: `cargo bench -p boost-benches --bench metrics -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::{Duration, Instant};

use boost_config::ServiceIdentity;
use boost_metrics::conventions::{
    DURATION_BUCKETS_SECONDS, RPC_METHOD, RPC_SERVER_CALL_DURATION, RPC_STATUS_CODE,
    RPC_SYSTEM_NAME,
};
use boost_metrics::{MetricDef, MetricsHandle, MetricsRecorder, MetricsSettings, RpcMetrics};
use criterion::{Criterion, criterion_group};
use metrics::{Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

const CALLS: MetricDef = MetricDef::counter("rpc_server_calls_total", "RPCs handled (bench only).");
const METHOD: &str = "hello.v1.Greeter/SayHello";
/// Samples recorded between two upkeeps (histogram samples wait in memory until then).
const CHUNK: u64 = 16 * 1024;

fn raw_recorder() -> PrometheusRecorder {
    PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets(DURATION_BUCKETS_SECONDS)
        .expect("buckets")
        .build_recorder()
}

fn ours() -> (MetricsRecorder, MetricsHandle) {
    let mut settings = MetricsSettings::default();
    settings.cardinality_limit = 100_000;
    MetricsHandle::build(&settings, &ServiceIdentity::new("bench", "0.0.0")).expect("build")
}

/// Times `iters` calls of `record`, running `upkeep` (untimed) every [`CHUNK`].
fn timed(iters: u64, mut record: impl FnMut(), upkeep: impl Fn()) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK);
        let start = Instant::now();
        for _ in 0..n {
            record();
        }
        total += start.elapsed();
        upkeep();
        left -= n;
    }
    total
}

fn raw_macros_observation(method: &str, status: &str) {
    metrics::histogram!(RPC_SERVER_CALL_DURATION,
        RPC_SYSTEM_NAME => "grpc", RPC_METHOD => method.to_owned(), RPC_STATUS_CODE => status.to_owned())
    .record(black_box(0.003));
    metrics::counter!(CALLS.name,
        RPC_SYSTEM_NAME => "grpc", RPC_METHOD => method.to_owned(), RPC_STATUS_CODE => status.to_owned())
    .increment(1);
}

fn record(c: &mut Criterion) {
    let method = black_box(METHOD.to_owned());
    let status = black_box("OK".to_owned());
    let mut group = c.benchmark_group("metrics_record");

    let raw = raw_recorder();
    let raw_handle = raw.handle();
    group.bench_function("raw_macros", |b| {
        b.iter_custom(|iters| {
            metrics::with_local_recorder(&raw, || {
                timed(
                    iters,
                    || raw_macros_observation(&method, &status),
                    || raw_handle.run_upkeep(),
                )
            })
        })
    });

    let metadata = Metadata::new(module_path!(), Level::INFO, None);
    let labels = vec![
        Label::new(RPC_SYSTEM_NAME, "grpc"),
        Label::new(RPC_METHOD, method.clone()),
        Label::new(RPC_STATUS_CODE, status.clone()),
    ];
    let histogram = raw.register_histogram(
        &Key::from_parts(RPC_SERVER_CALL_DURATION, labels.clone()),
        &metadata,
    );
    let counter = raw.register_counter(&Key::from_parts(CALLS.name, labels), &metadata);
    group.bench_function("raw_handles", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || {
                    histogram.record(black_box(0.003));
                    counter.increment(1);
                },
                || raw_handle.run_upkeep(),
            )
        })
    });

    let (recorder, handle) = ours();
    let (say_hello, calls) = metrics::with_local_recorder(&recorder, || {
        let say_hello = RpcMetrics::server().method(method.clone());
        say_hello.record(0, Duration::ZERO); // resolve the OK handle now
        let calls = CALLS.register_counter(&[
            (RPC_SYSTEM_NAME, "grpc"),
            (RPC_METHOD, &method),
            (RPC_STATUS_CODE, &status),
        ]);
        (say_hello, calls)
    });
    group.bench_function("ours_handles", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || {
                    say_hello.record_seconds(black_box(0), black_box(0.003));
                    calls.increment(1);
                },
                || handle.run_upkeep(),
            )
        })
    });

    group.bench_function("ours_macros", |b| {
        b.iter_custom(|iters| {
            metrics::with_local_recorder(&recorder, || {
                timed(
                    iters,
                    || raw_macros_observation(&method, &status),
                    || handle.run_upkeep(),
                )
            })
        })
    });
    group.finish();
}

/// Records label sets until the scrape holds `series` time series (sample
/// lines: a counter or gauge label set is 1, a histogram one is 14 buckets +
/// `+Inf` + `_sum` + `_count` = 17), cycling counter, counter, gauge,
/// histogram. Returns the number of label sets.
fn populate(recorder: &dyn Recorder, series: usize) -> usize {
    let metadata = Metadata::new(module_path!(), Level::INFO, None);
    let (mut lines, mut i) = (0, 0);
    while lines < series {
        let labels = vec![
            Label::new("cache", format!("cache-{}", i % 50)),
            Label::new("result", format!("r{i}")),
        ];
        match i % 4 {
            0 | 1 => {
                recorder
                    .register_counter(&Key::from_parts("cache_requests_total", labels), &metadata)
                    .increment(i as u64);
                lines += 1;
            }
            2 => {
                recorder
                    .register_gauge(&Key::from_parts("cache_entries", labels), &metadata)
                    .set(i as f64);
                lines += 1;
            }
            _ => {
                let h = recorder.register_histogram(
                    &Key::from_parts("cache_load_duration_seconds", labels),
                    &metadata,
                );
                for s in 0..5 {
                    h.record(0.001 * f64::from(s) * (i % 7) as f64);
                }
                lines += DURATION_BUCKETS_SECONDS.len() + 3;
            }
        }
        i += 1;
    }
    i
}

fn render_group(c: &mut Criterion, group_name: &str, series: usize) {
    let raw = raw_recorder();
    let label_sets = populate(&raw, series);
    let raw: PrometheusHandle = raw.handle();

    let (recorder, ours) = ours();
    populate(&recorder, series);

    // Same families and samples, apart from what ours adds (service_info, process metrics).
    let (raw_text, ours_text) = (raw.render(), ours.render());
    let samples = |text: &str| {
        text.lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count()
    };
    eprintln!(
        "{group_name}: {label_sets} label sets; raw {} series / {} bytes, ours {} series / {} bytes",
        samples(&raw_text),
        raw_text.len(),
        samples(&ours_text),
        ours_text.len()
    );

    let mut group = c.benchmark_group(group_name);
    group.sample_size(if series > 5_000 { 30 } else { 100 });
    group.bench_function("raw_render", |b| b.iter(|| black_box(raw.render())));
    group.bench_function("ours_render", |b| b.iter(|| black_box(ours.render())));
    group.finish();
}

fn render(c: &mut Criterion) {
    render_group(c, "metrics_render_1k", 1_000);
    render_group(c, "metrics_render_10k", 10_000);
}

/// Median of `ours / raw` over `rounds` back-to-back pairs: on a shared,
/// loaded machine this is steadier than comparing two medians measured
/// seconds apart.
fn paired_ratio(rounds: usize, mut raw: impl FnMut(), mut ours: impl FnMut()) -> f64 {
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|round| {
            let time = |f: &mut dyn FnMut()| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64()
            };
            // Alternate which goes first so neither always finds the cache warm.
            let (r, o) = if round % 2 == 0 {
                let r = time(&mut raw);
                (r, time(&mut ours))
            } else {
                let o = time(&mut ours);
                (time(&mut raw), o)
            };
            o / r
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

/// Prints paired ratios next to criterion's: same work as the groups above.
fn report_paired() {
    for (name, series, rounds) in [
        ("metrics_render_1k", 1_000, 400),
        ("metrics_render_10k", 10_000, 60),
    ] {
        let raw = raw_recorder();
        populate(&raw, series);
        let raw = raw.handle();
        let (recorder, ours) = ours();
        populate(&recorder, series);
        let ratio = paired_ratio(
            rounds,
            || drop(black_box(raw.render())),
            || drop(black_box(ours.render())),
        );
        eprintln!("PAIRED {name}: median of {rounds} back-to-back ours/raw = {ratio:.3}x");
    }

    let method = black_box(METHOD.to_owned());
    let status = black_box("OK".to_owned());
    let raw = raw_recorder();
    let raw_handle = raw.handle();
    let (recorder, handle) = ours();
    let (say_hello, calls) = metrics::with_local_recorder(&recorder, || {
        let say_hello = RpcMetrics::server().method(method.clone());
        let calls = CALLS.register_counter(&[
            (RPC_SYSTEM_NAME, "grpc"),
            (RPC_METHOD, &method),
            (RPC_STATUS_CODE, &status),
        ]);
        (say_hello, calls)
    });
    let ratio = paired_ratio(
        200,
        || {
            metrics::with_local_recorder(&raw, || {
                for _ in 0..1_000 {
                    raw_macros_observation(&method, &status);
                }
            });
            raw_handle.run_upkeep();
        },
        || {
            for _ in 0..1_000 {
                say_hello.record_seconds(black_box(0), black_box(0.003));
                calls.increment(1);
            }
            handle.run_upkeep();
        },
    );
    eprintln!(
        "PAIRED metrics_record: median of 200 back-to-back ours_handles/raw_macros = {ratio:.3}x"
    );
}

criterion_group!(benches, record, render);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    report_paired();
    boost_benches::report_ratio("metrics_record", "raw_macros", "ours_handles");
    boost_benches::report_ratio("metrics_record", "raw_macros", "ours_macros");
    boost_benches::report_ratio("metrics_record", "raw_handles", "ours_handles");
    boost_benches::report_ratio("metrics_render_1k", "raw_render", "ours_render");
    boost_benches::report_ratio("metrics_render_10k", "raw_render", "ours_render");
}
