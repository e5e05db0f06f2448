//! Histogram observations made inside a sampled trace carry its trace id as an
//! OpenMetrics exemplar; Prometheus text never shows exemplars.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::cell::Cell;
use std::time::Duration;

use boost_metrics::{MetricsSettings, RpcMetrics, ScrapeFormat};

thread_local! {
    /// The "current sampled trace" of this thread, as a tracing layer would know it.
    static CURRENT: Cell<Option<[u8; 16]>> = const { Cell::new(None) };
}

fn current_trace() -> Option<[u8; 16]> {
    CURRENT.with(Cell::get)
}

fn in_trace<T>(trace_id: [u8; 16], f: impl FnOnce() -> T) -> T {
    CURRENT.with(|c| c.set(Some(trace_id)));
    let out = f();
    CURRENT.with(|c| c.set(None));
    out
}

const TRACE_A: [u8; 16] = [0xab; 16];
const TRACE_B: [u8; 16] = [
    0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
];

fn bucket_line<'a>(scrape: &'a str, le: &str) -> &'a str {
    let prefix = format!(
        r#"rpc_server_call_duration_seconds_bucket{{rpc_system_name="grpc",rpc_method="hello.v1.Greeter/SayHello",rpc_status_code="OK",le="{le}"}}"#
    );
    scrape
        .lines()
        .find(|line| line.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no bucket le={le} in\n{scrape}"))
}

#[test]
fn observations_in_a_sampled_trace_carry_its_id_in_openmetrics_only() {
    boost_metrics::set_trace_id_source(current_trace);
    let (recorder, handle) = common::build(&MetricsSettings::default());
    // Handles bind to the recorder current when they are first used.
    metrics::with_local_recorder(&recorder, || {
        let say_hello = RpcMetrics::server().method("hello.v1.Greeter/SayHello");
        // Outside any trace: counted, no exemplar.
        say_hello.record(0, Duration::from_millis(3));
        // Inside a sampled trace: the 0.05 bucket gets its exemplar.
        in_trace(TRACE_B, || say_hello.record(0, Duration::from_millis(42)));
    });

    let open = handle.render_as(ScrapeFormat::OpenMetrics);
    assert!(open.ends_with("# EOF\n"), "{open}");
    assert!(
        !open.contains("\n\n"),
        "OpenMetrics has no blank lines:\n{open}"
    );
    let line = bucket_line(&open, "0.05");
    let (sample, exemplar) = line.split_once(" # ").expect("an exemplar");
    assert!(sample.ends_with(" 2"), "{line}");
    let rest = exemplar
        .strip_prefix(r#"{trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 0.042 "#)
        .unwrap_or_else(|| panic!("{line}"));
    let timestamp: f64 = rest.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - timestamp).abs() < 600.0, "{timestamp} vs {now}");
    // The bucket observed outside the trace has none.
    assert!(!bucket_line(&open, "0.005").contains('#'), "{open}");

    let text = handle.render();
    assert!(!text.contains("trace_id"), "{text}");
    assert!(!text.contains("# EOF"), "{text}");
    assert!(bucket_line(&text, "0.05").ends_with("} 2"), "{text}");
}

#[test]
fn an_exemplar_is_replaced_only_after_a_scrape_and_a_trace_outside_keeps_it() {
    boost_metrics::set_trace_id_source(current_trace);
    let (recorder, handle) = common::build(&MetricsSettings::default());
    let method = RpcMetrics::server().method("hello.v1.Greeter/SayHello");
    // Bind the handle to this recorder (handles bind on first use).
    metrics::with_local_recorder(&recorder, || method.record(0, Duration::from_millis(1)));
    let exemplar = |scrape: &str| {
        bucket_line(scrape, "0.005")
            .split_once("trace_id=\"")
            .map(|(_, rest)| rest[..32].to_owned())
    };
    // Scrape once so the unsampled binding observation is in the past epoch.
    let _ = handle.render_as(ScrapeFormat::OpenMetrics);
    in_trace(TRACE_A, || method.record(0, Duration::from_millis(1)));
    // A second sampled observation before any scrape keeps the first exemplar
    // (the source is not even asked).
    in_trace(TRACE_B, || method.record(0, Duration::from_millis(1)));
    let first = handle.render_as(ScrapeFormat::OpenMetrics);
    assert_eq!(exemplar(&first).as_deref(), Some("ab".repeat(16).as_str()));
    // Unsampled observations after the scrape leave the exemplar as it was.
    method.record(0, Duration::from_millis(1));
    let second = handle.render_as(ScrapeFormat::OpenMetrics);
    assert_eq!(exemplar(&second).as_deref(), Some("ab".repeat(16).as_str()));
    // A sampled one after a scrape replaces it.
    in_trace(TRACE_B, || method.record(0, Duration::from_millis(1)));
    let third = handle.render_as(ScrapeFormat::OpenMetrics);
    assert_eq!(
        exemplar(&third).as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert!(bucket_line(&third, "0.005").contains("} 5 # "), "{third}");
}

#[test]
fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
    let open = common::realistic_scrape_as(ScrapeFormat::OpenMetrics);
    assert!(open.contains("# TYPE cache_requests counter\n"), "{open}");
    assert!(open.contains("# HELP cache_requests "), "{open}");
    assert!(open.contains("\ncache_requests_total{"), "{open}");
    assert!(
        open.contains("# TYPE process_cpu_seconds counter\n"),
        "{open}"
    );
    assert!(
        open.contains("# TYPE tokio_runtime_busy_seconds counter\n"),
        "{open}"
    );
    assert!(open.contains("# TYPE rpc_server_call_duration_seconds histogram\n"));
    assert_eq!(open.matches("# EOF").count(), 1);
    assert!(open.ends_with("# EOF\n"));
    assert!(!open.contains("\n\n"), "{open}");
}
