//! Logging hot path, raw `tracing_subscriber::fmt().json()` vs boost-tracing, in one run.
//!
//! Group `log_json_event`: one `info!` with a message and 5 fields inside a span with 2
//! fields (entered once, outside the loop), JSON to `io::sink`:
//! - `raw_fmt_json`: `tracing_subscriber::fmt().json()` (the reference);
//! - `ours_json`: boost-tracing's JSON layer (with its OpenTelemetry layer, trace/span ids,
//!   redaction and `service`), writing synchronously to `io::sink` (`blocking_writer`), so
//!   both sides do the same I/O;
//! - `ours_json_queued`: the same through the default bounded background queue.
//!
//! Group `log_disabled_event`: a `debug!` below the `info` filter, raw vs ours.
//!
//! Run: `cargo bench -p boost-benches --bench logging -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use boost_config::ServiceIdentity;
use boost_tracing::{LogFormat, TracingSettings};
use criterion::{Criterion, criterion_group};
use tracing::Dispatch;

fn raw() -> Dispatch {
    Dispatch::new(
        tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_writer(std::io::sink)
            .finish(),
    )
}

fn settings() -> TracingSettings {
    let mut s = TracingSettings::default();
    s.format = LogFormat::Json;
    s.filter = "info".into();
    s
}

fn ours(queued: bool) -> (Dispatch, boost_tracing::TracingGuard) {
    let b = boost_tracing::builder(&settings(), &ServiceIdentity::new("bench", "0.0.0"))
        .ignore_rust_log();
    let b = if queued {
        b.writer(std::io::sink())
    } else {
        b.blocking_writer(std::io::sink())
    };
    b.build().expect("build")
}

fn event() {
    tracing::info!(
        user = "ada",
        order_id = 4242_u64,
        amount = 12.5,
        express = true,
        region = "eu-west-1",
        "order placed"
    );
}

fn bench_in(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: &str,
    d: &Dispatch,
    f: fn(),
) {
    tracing::dispatcher::with_default(d, || {
        let span = tracing::info_span!("checkout", tenant = "acme", attempt = 1_u64);
        let _entered = span.enter();
        c.bench_function(id, |b| b.iter(f));
    });
}

fn logging(c: &mut Criterion) {
    let raw = raw();
    let (direct, _guard) = ours(false);
    let (queued, _queued_guard) = ours(true);

    let mut g = c.benchmark_group("log_json_event");
    bench_in(&mut g, "raw_fmt_json", &raw, event);
    bench_in(&mut g, "ours_json", &direct, event);
    bench_in(&mut g, "ours_json_queued", &queued, event);
    g.finish();

    let mut g = c.benchmark_group("log_disabled_event");
    let disabled = || tracing::debug!(user = black_box("ada"), "not logged");
    bench_in(&mut g, "raw_fmt_json", &raw, disabled);
    bench_in(&mut g, "ours_json", &direct, disabled);
    g.finish();
}

criterion_group!(benches, logging);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    boost_benches::report_ratio("log_json_event", "raw_fmt_json", "ours_json");
    boost_benches::report_ratio("log_json_event", "raw_fmt_json", "ours_json_queued");
    boost_benches::report_ratio("log_disabled_event", "raw_fmt_json", "ours_json");
}
