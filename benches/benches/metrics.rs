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
//!    `service_info`, HELP lines, the process metrics and — both render inside
//!    a tokio runtime, as the admin server does — the runtime metrics).
//!
//! After criterion's numbers it prints, for the same work:
//! - `PAIRED`: the median of many back-to-back `ours / raw` wall-time pairs,
//!   alternating which goes first (steadier than two medians taken seconds
//!   apart on a loaded machine);
//! - `CALLGRIND` (when `valgrind` is on PATH): instructions per render, ours /
//!   raw, from re-running this binary under callgrind with
//!   `BOOST_METRICS_CALLGRIND=<series>:<renders>` — a CPU-cost ratio that does
//!   not move with the machine's load. Ours runs without process metrics
//!   there (see [`callgrind_driver`]).
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

/// Times `iters` calls of `record`, running `upkeep` (untimed) every [`CHUNK`]
/// (the exporter's histogram samples wait for it; ours need none).
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

    let (recorder, _handle) = ours();
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
                || {},
            )
        })
    });

    group.bench_function("ours_macros", |b| {
        b.iter_custom(|iters| {
            metrics::with_local_recorder(&recorder, || {
                timed(iters, || raw_macros_observation(&method, &status), || {})
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

/// A tokio runtime to render inside, as the admin server does: ours then
/// includes the runtime metrics (raw has no equivalent and ignores it).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn render_group(c: &mut Criterion, group_name: &str, series: usize) {
    let runtime = runtime();
    let _inside = runtime.enter();
    let raw = raw_recorder();
    let label_sets = populate(&raw, series);
    let raw: PrometheusHandle = raw.handle();

    let (recorder, ours) = ours();
    populate(&recorder, series);

    // Same families and samples, apart from what ours adds (service_info,
    // process and runtime metrics, HELP lines).
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

/// Prints paired ratios next to criterion's: same work as the groups above.
fn report_paired() {
    for (name, series, rounds) in [
        ("metrics_render_1k", 1_000, 2_000),
        ("metrics_render_10k", 10_000, 300),
    ] {
        let runtime = runtime();
        let _inside = runtime.enter();
        let raw = raw_recorder();
        populate(&raw, series);
        let raw = raw.handle();
        let (recorder, ours) = ours();
        populate(&recorder, series);
        let (ratio, fastest) = boost_benches::paired_ratio(
            rounds,
            || drop(black_box(raw.render())),
            || drop(black_box(ours.render())),
        );
        eprintln!(
            "PAIRED {name}: median of {rounds} back-to-back ours/raw = {ratio:.3}x; \
             fastest ours / fastest raw = {fastest:.3}x"
        );
    }

    let method = black_box(METHOD.to_owned());
    let status = black_box("OK".to_owned());
    let raw = raw_recorder();
    let raw_handle = raw.handle();
    let (recorder, _handle) = ours();
    let (say_hello, calls) = metrics::with_local_recorder(&recorder, || {
        let say_hello = RpcMetrics::server().method(method.clone());
        let calls = CALLS.register_counter(&[
            (RPC_SYSTEM_NAME, "grpc"),
            (RPC_METHOD, &method),
            (RPC_STATUS_CODE, &status),
        ]);
        (say_hello, calls)
    });
    let (ratio, fastest) = boost_benches::paired_ratio(
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
        },
    );
    eprintln!(
        "PAIRED metrics_record: median of 200 back-to-back ours_handles/raw_macros = {ratio:.3}x; \
         fastest = {fastest:.3}x"
    );
}

/// Under callgrind: `series:renders` — run [`callgrind_driver`] instead of the benches.
const CALLGRIND_MODE: &str = "BOOST_METRICS_CALLGRIND";

/// One raw render (and drop), never inlined so `--toggle-collect` can count it alone.
#[inline(never)]
fn callgrind_raw_render(handle: &PrometheusHandle) {
    drop(black_box(handle.render()));
}

/// One render (and drop) of ours, never inlined so `--toggle-collect` can count it alone.
#[inline(never)]
fn callgrind_ours_render(handle: &MetricsHandle) {
    drop(black_box(handle.render()));
}

/// The driver run under valgrind: populates both recorders with `series`, does
/// one uncounted render each (first-render costs), then `n` counted renders of
/// each, alternating
/// so both meet the same allocator state.
///
/// Ours runs without process metrics here: collecting them crashes under
/// valgrind (rustix's vDSO check, bytecodealliance/rustix#1559), and they are
/// read from `/proc` at most once a second anyway; the criterion and paired
/// runs include them. Both run inside a tokio runtime, so ours includes the
/// runtime metrics.
fn callgrind_driver(series: usize, n: usize) {
    let runtime = runtime();
    let _inside = runtime.enter();
    let raw = raw_recorder();
    populate(&raw, series);
    let raw = raw.handle();
    let mut settings = MetricsSettings::default();
    settings.cardinality_limit = 100_000;
    settings.process_metrics = false;
    let (recorder, ours) =
        MetricsHandle::build(&settings, &ServiceIdentity::new("bench", "0.0.0")).expect("build");
    populate(&recorder, series);
    drop(black_box(raw.render()));
    drop(black_box(ours.render()));
    for _ in 0..n {
        callgrind_raw_render(&raw);
        callgrind_ours_render(&ours);
    }
}

/// Instructions executed inside `function` (a `--toggle-collect` pattern) for
/// `n` renders of `series`, from one valgrind run of this binary; `None` when
/// valgrind is missing or fails.
fn callgrind_instructions(series: usize, n: usize, function: &str) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::env::temp_dir().join(format!(
        "boost-metrics-callgrind-{}-{series}-{function}.out",
        std::process::id()
    ));
    let status = std::process::Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(format!("--toggle-collect=*{function}*"))
        .arg(exe)
        .env(CALLGRIND_MODE, format!("{series}:{n}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    let text = std::fs::read_to_string(&out).ok();
    let _ = std::fs::remove_file(&out);
    if !status.success() {
        return None;
    }
    text?
        .lines()
        .find_map(|line| {
            line.strip_prefix("totals:")
                .or(line.strip_prefix("summary:"))
        })
        .and_then(|total| total.split_whitespace().next()?.parse().ok())
}

/// Prints `CALLGRIND group: ours/raw instructions per render`: a CPU-cost
/// ratio that, unlike wall time, does not move with the machine's load.
/// Skipped (with a note) when valgrind is not installed.
fn report_callgrind() {
    for (name, series, n) in [
        ("metrics_render_1k", 1_000, 40),
        ("metrics_render_10k", 10_000, 10),
    ] {
        let raw = callgrind_instructions(series, n, "callgrind_raw_render");
        let ours = callgrind_instructions(series, n, "callgrind_ours_render");
        match (raw, ours) {
            (Some(raw), Some(ours)) => eprintln!(
                "CALLGRIND {name}: instructions per render ours {} / raw {} = {:.3}x",
                ours / n as u64,
                raw / n as u64,
                ours as f64 / raw as f64
            ),
            _ => eprintln!("CALLGRIND {name}: skipped (valgrind not found or failed)"),
        }
    }
}

criterion_group!(benches, record, render);

fn main() {
    if let Ok(mode) = std::env::var(CALLGRIND_MODE) {
        let (series, n) = mode
            .split_once(':')
            .expect("BOOST_METRICS_CALLGRIND=series:renders");
        callgrind_driver(series.parse().expect("series"), n.parse().expect("renders"));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    report_paired();
    report_callgrind();
    boost_benches::report_ratio("metrics_record", "raw_macros", "ours_handles");
    boost_benches::report_ratio("metrics_record", "raw_macros", "ours_macros");
    boost_benches::report_ratio("metrics_record", "raw_handles", "ours_handles");
    boost_benches::report_ratio("metrics_render_1k", "raw_render", "ours_render");
    boost_benches::report_ratio("metrics_render_10k", "raw_render", "ours_render");
}
