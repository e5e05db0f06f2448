//! The kit's metrics against a peer: Cloudflare's foundations (5.x,
//! `default-features = false, features = ["metrics"]`, prometheus-client
//! underneath), the same work through each, in one process.
//!
//! 1. `peer_record`: one RPC observation through handles obtained once — a
//!    duration histogram (the 14 OpenTelemetry duration buckets) and a
//!    counter, three labels each (`rpc_system_name`, `rpc_method`,
//!    `rpc_status_code`):
//!    - `foundations`: the `#[metrics]` accessors called once, the returned
//!      `Histogram` and `Counter` kept;
//!    - `ours`: [`RpcMetrics`] method handles + a [`MetricDef`] counter handle.
//! 2. `peer_record_2threads`: the same, two threads on the same handles at
//!    once (time per observation per thread).
//! 3. `peer_render_1k`: one scrape of ~1k series (label sets cycle counter,
//!    counter, gauge, histogram with the 14 buckets, as `benches/metrics.rs`):
//!    foundations' `collect` (OpenMetrics text, the only format it writes)
//!    against ours in OpenMetrics (`ours_openmetrics`, the like-for-like
//!    pair) and in Prometheus text (`ours_prometheus`). Ours renders without
//!    process or runtime metrics (foundations' `collect` has neither here).
//!
//! After criterion's numbers it prints:
//! - `PAIRED`: the median of many back-to-back `ours / foundations` wall-time
//!   pairs, alternating which goes first;
//! - `CALLGRIND` (when `valgrind` is on PATH): instructions per observation
//!   and per render, ours / foundations, from re-running this binary under
//!   callgrind with `BOOST_PEER_CALLGRIND=<function>` — a CPU-cost ratio that
//!   does not swing with the machine's load (an atomic read-modify-write
//!   counts as one instruction there, whatever it costs in cycles).
//!
//! Run: `cargo bench -p boost-benches --bench metrics_peer -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use boost_config::ServiceIdentity;
use boost_metrics::conventions::{RPC_METHOD, RPC_STATUS_CODE, RPC_SYSTEM_NAME};
use boost_metrics::{
    MethodMetrics, MetricDef, MetricsHandle, MetricsRecorder, MetricsSettings, RpcMetrics,
    ScrapeFormat,
};
use criterion::{Criterion, criterion_group};
use foundations::telemetry::metrics::{Counter, Gauge, Histogram, HistogramBuilder, metrics};
use metrics::{Key, Label, Level, Metadata, Recorder};

const METHOD: &str = "hello.v1.Greeter/SayHello";
const CALLS: MetricDef = MetricDef::counter("rpc_server_calls_total", "RPCs handled (bench only).");
/// The kit's duration buckets, as a `'static` slice foundations' builder takes.
const BUCKETS: &[f64] = boost_metrics::conventions::DURATION_BUCKETS_SECONDS;

#[metrics]
mod peer_rpc {
    /// Duration of RPCs handled (bench only).
    #[ctor = HistogramBuilder { buckets: super::BUCKETS }]
    pub fn call_duration_seconds(
        rpc_system_name: &'static str,
        rpc_method: &Arc<String>,
        rpc_status_code: &'static str,
    ) -> Histogram;

    /// RPCs handled (bench only).
    pub fn calls_total(
        rpc_system_name: &'static str,
        rpc_method: &Arc<String>,
        rpc_status_code: &'static str,
    ) -> Counter;
}

#[metrics]
mod peer_cache {
    /// Cache lookups (bench only).
    pub fn requests_total(cache: &Arc<String>, result: &Arc<String>) -> Counter;

    /// Entries in the cache (bench only).
    pub fn entries(cache: &Arc<String>, result: &Arc<String>) -> Gauge;

    /// Time to load one entry (bench only).
    #[ctor = HistogramBuilder { buckets: super::BUCKETS }]
    pub fn load_duration_seconds(cache: &Arc<String>, result: &Arc<String>) -> Histogram;
}

/// Foundations' kept handles for one RPC observation.
struct PeerHandles {
    duration: Histogram,
    calls: Counter,
}

impl PeerHandles {
    fn new() -> Self {
        let method = Arc::new(METHOD.to_owned());
        Self {
            duration: peer_rpc::call_duration_seconds("grpc", &method, "OK"),
            calls: peer_rpc::calls_total("grpc", &method, "OK"),
        }
    }

    #[inline]
    fn observe(&self) {
        self.duration.observe(black_box(0.003));
        self.calls.inc();
    }
}

/// Ours: the recorder, its handle, and the kept handles for one observation.
struct Ours {
    recorder: MetricsRecorder,
    handle: MetricsHandle,
    say_hello: MethodMetrics,
    calls: boost_metrics::CounterHandle,
}

impl Ours {
    fn new() -> Self {
        let mut settings = MetricsSettings::default();
        settings.cardinality_limit = 100_000;
        settings.process_metrics = false;
        settings.runtime_metrics = false;
        let (recorder, handle) =
            MetricsHandle::build(&settings, &ServiceIdentity::new("bench", "0.0.0"))
                .expect("build");
        let (say_hello, calls) = metrics::with_local_recorder(&recorder, || {
            let say_hello = RpcMetrics::server().method(METHOD);
            say_hello.record(0, Duration::ZERO); // resolve the OK handle now
            let calls = CALLS.register_counter(&[
                (RPC_SYSTEM_NAME, "grpc"),
                (RPC_METHOD, METHOD),
                (RPC_STATUS_CODE, "OK"),
            ]);
            (say_hello, calls)
        });
        Self {
            recorder,
            handle,
            say_hello,
            calls,
        }
    }

    #[inline]
    fn observe(&self) {
        self.say_hello
            .record_seconds(black_box(0), black_box(0.003));
        self.calls.increment(1);
    }
}

/// Label sets until each side holds `series` sample lines (a counter or gauge
/// label set is 1, a histogram one 14 buckets + `+Inf` + `_sum` + `_count`),
/// cycling counter, counter, gauge, histogram — the same sets on both sides.
fn populate(ours: &dyn Recorder, series: usize) {
    let metadata = Metadata::new(module_path!(), Level::INFO, None);
    let (mut lines, mut i) = (0, 0u64);
    while lines < series {
        let (cache, result) = (format!("cache-{}", i % 50), format!("r{i}"));
        let labels = vec![
            Label::new("cache", cache.clone()),
            Label::new("result", result.clone()),
        ];
        let (cache, result) = (Arc::new(cache), Arc::new(result));
        match i % 4 {
            0 | 1 => {
                ours.register_counter(&Key::from_parts("cache_requests_total", labels), &metadata)
                    .increment(i);
                peer_cache::requests_total(&cache, &result).inc_by(i);
                lines += 1;
            }
            2 => {
                ours.register_gauge(&Key::from_parts("cache_entries", labels), &metadata)
                    .set(i as f64);
                peer_cache::entries(&cache, &result).set(i);
                lines += 1;
            }
            _ => {
                let h = ours.register_histogram(
                    &Key::from_parts("cache_load_duration_seconds", labels),
                    &metadata,
                );
                let peer = peer_cache::load_duration_seconds(&cache, &result);
                for s in 0..5u32 {
                    let value = 0.001 * f64::from(s) * (i % 7) as f64;
                    h.record(value);
                    peer.observe(value);
                }
                lines += BUCKETS.len() + 3;
            }
        }
        i += 1;
    }
}

fn peer_render() -> String {
    foundations::telemetry::metrics::collect(&Default::default()).expect("foundations collect")
}

/// Everything both sides need, set up once: handles kept, ~1k series each.
struct World {
    peer: PeerHandles,
    ours: Ours,
}

fn world() -> World {
    let peer = PeerHandles::new();
    let ours = Ours::new();
    populate(&ours.recorder, 1_000);
    World { peer, ours }
}

/// Times `iters` observations on each of two threads at once; returns the
/// wall time, i.e. the time per observation per thread times `iters`.
fn two_threads(iters: u64, observe: &(dyn Fn() + Sync)) -> Duration {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for _ in 0..iters {
                    observe();
                }
            });
        }
    });
    start.elapsed()
}

fn benches_with(c: &mut Criterion, world: &World) {
    let mut group = c.benchmark_group("peer_record");
    group.bench_function("foundations", |b| b.iter(|| world.peer.observe()));
    group.bench_function("ours", |b| b.iter(|| world.ours.observe()));
    group.finish();

    let mut group = c.benchmark_group("peer_record_2threads");
    group.bench_function("foundations", |b| {
        b.iter_custom(|iters| two_threads(iters, &|| world.peer.observe()))
    });
    group.bench_function("ours", |b| {
        b.iter_custom(|iters| two_threads(iters, &|| world.ours.observe()))
    });
    group.finish();

    let mut group = c.benchmark_group("peer_render_1k");
    group.bench_function("foundations", |b| b.iter(|| black_box(peer_render())));
    group.bench_function("ours_openmetrics", |b| {
        b.iter(|| black_box(world.ours.handle.render_as(ScrapeFormat::OpenMetrics)))
    });
    group.bench_function("ours_prometheus", |b| {
        b.iter(|| black_box(world.ours.handle.render()))
    });
    group.finish();
}

fn report_paired(world: &World) {
    const N: u64 = 10_000;
    let report = |name: &str, rounds: usize, (median, fastest): (f64, f64)| {
        eprintln!(
            "PAIRED {name}: median of {rounds} back-to-back ours/foundations = {median:.3}x; \
             fastest ours / fastest foundations = {fastest:.3}x"
        )
    };
    let rounds = 300;
    report(
        "peer_record",
        rounds,
        boost_benches::paired_ratio(
            rounds,
            || (0..N).for_each(|_| world.peer.observe()),
            || (0..N).for_each(|_| world.ours.observe()),
        ),
    );
    report(
        "peer_record_2threads",
        rounds,
        boost_benches::paired_ratio(
            rounds,
            || {
                two_threads(N, &|| world.peer.observe());
            },
            || {
                two_threads(N, &|| world.ours.observe());
            },
        ),
    );
    let rounds = 1_000;
    report(
        "peer_render_1k (ours OpenMetrics)",
        rounds,
        boost_benches::paired_ratio(
            rounds,
            || drop(black_box(peer_render())),
            || {
                drop(black_box(
                    world.ours.handle.render_as(ScrapeFormat::OpenMetrics),
                ))
            },
        ),
    );
    report(
        "peer_render_1k (ours Prometheus text)",
        rounds,
        boost_benches::paired_ratio(
            rounds,
            || drop(black_box(peer_render())),
            || drop(black_box(world.ours.handle.render())),
        ),
    );
}

/// Under callgrind: which function's instructions to count (see [`callgrind_driver`]).
const CALLGRIND_MODE: &str = "BOOST_PEER_CALLGRIND";
/// Observations per counted call of the observation functions.
const CG_OBSERVATIONS: u64 = 1_000;
/// Counted calls of each function.
const CG_CALLS: u64 = 20;

#[inline(never)]
fn cg_peer_observe(world: &World) {
    for _ in 0..CG_OBSERVATIONS {
        world.peer.observe();
    }
}

#[inline(never)]
fn cg_ours_observe(world: &World) {
    for _ in 0..CG_OBSERVATIONS {
        world.ours.observe();
    }
}

#[inline(never)]
fn cg_peer_render(_: &World) {
    drop(black_box(peer_render()));
}

#[inline(never)]
fn cg_ours_render(world: &World) {
    drop(black_box(
        world.ours.handle.render_as(ScrapeFormat::OpenMetrics),
    ));
}

/// The driver run under valgrind: both sides set up, one uncounted call of
/// each function (first-call costs), then [`CG_CALLS`] calls of each,
/// alternating so both meet the same allocator state.
fn callgrind_driver() {
    let world = world();
    let all: [fn(&World); 4] = [
        cg_peer_observe,
        cg_ours_observe,
        cg_peer_render,
        cg_ours_render,
    ];
    for f in all {
        f(&world);
    }
    for _ in 0..CG_CALLS {
        for f in all {
            f(&world);
        }
    }
}

/// Instructions counted inside `function` over the driver's run; `None` when
/// valgrind is missing or fails.
fn callgrind_instructions(function: &str) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::env::temp_dir().join(format!(
        "boost-peer-callgrind-{}-{function}.out",
        std::process::id()
    ));
    let status = std::process::Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(format!("--toggle-collect=*{function}*"))
        .arg(exe)
        .env(CALLGRIND_MODE, "1")
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

fn report_callgrind() {
    // The uncounted first call is excluded by dividing by CG_CALLS + 1 calls
    // counted in total (toggle-collect counts every call, including the first).
    let calls = CG_CALLS + 1;
    for (name, peer, ours, per) in [
        (
            "peer_record",
            "cg_peer_observe",
            "cg_ours_observe",
            CG_OBSERVATIONS,
        ),
        (
            "peer_render_1k (ours OpenMetrics)",
            "cg_peer_render",
            "cg_ours_render",
            1,
        ),
    ] {
        match (callgrind_instructions(peer), callgrind_instructions(ours)) {
            (Some(peer), Some(ours)) => eprintln!(
                "CALLGRIND {name}: instructions per op ours {} / foundations {} = {:.3}x",
                ours / calls / per,
                peer / calls / per,
                ours as f64 / peer as f64
            ),
            _ => eprintln!("CALLGRIND {name}: skipped (valgrind not found or failed)"),
        }
    }
}

fn benches(c: &mut Criterion) {
    let world = world();
    let (peer_text, ours_text) = (
        peer_render(),
        world.ours.handle.render_as(ScrapeFormat::OpenMetrics),
    );
    let samples = |text: &str| {
        text.lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count()
    };
    eprintln!(
        "peer_render_1k: foundations {} series / {} bytes, ours {} series / {} bytes",
        samples(&peer_text),
        peer_text.len(),
        samples(&ours_text),
        ours_text.len()
    );
    benches_with(c, &world);
    report_paired(&world);
}

criterion_group!(peer, benches);

fn main() {
    if std::env::var_os(CALLGRIND_MODE).is_some() {
        callgrind_driver();
        return;
    }
    peer();
    Criterion::default().configure_from_args().final_summary();
    report_callgrind();
    for group in ["peer_record", "peer_record_2threads"] {
        boost_benches::report_ratio(group, "foundations", "ours");
    }
    boost_benches::report_ratio("peer_render_1k", "foundations", "ours_openmetrics");
    boost_benches::report_ratio("peer_render_1k", "foundations", "ours_prometheus");
}
