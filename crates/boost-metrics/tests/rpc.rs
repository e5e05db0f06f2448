//! `RpcMetrics` records the conventions' RPC metrics through cached handles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use boost_metrics::{MetricsSettings, RpcMetrics};

#[test]
fn server_calls_are_recorded_per_status_code_name() {
    let (recorder, handle) = common::build(&MetricsSettings::default());
    metrics::with_local_recorder(&recorder, || {
        let method = RpcMetrics::server().method("hello.v1.Greeter/SayHello");
        method.record(0, Duration::from_millis(2));
        method.record(0, Duration::from_millis(2));
        method.record(14, Duration::from_secs(1));
        method.record(99, Duration::from_secs(1));
        method.record(-1, Duration::from_secs(1));
    });
    let scrape = handle.render();
    let count = |code: &str| {
        let series = format!(
            "rpc_server_call_duration_seconds_count{{rpc_system_name=\"grpc\",\
             rpc_method=\"hello.v1.Greeter/SayHello\",rpc_status_code=\"{code}\"}} "
        );
        scrape
            .lines()
            .find_map(|l| l.strip_prefix(series.as_str()))
            .map(str::to_owned)
    };
    assert_eq!(count("OK").as_deref(), Some("2"));
    assert_eq!(count("UNAVAILABLE").as_deref(), Some("1"));
    assert_eq!(
        count("UNKNOWN").as_deref(),
        Some("2"),
        "out-of-range codes count as UNKNOWN"
    );
}

#[test]
fn client_calls_carry_the_upstream_name() {
    let (recorder, handle) = common::build(&MetricsSettings::default());
    metrics::with_local_recorder(&recorder, || {
        RpcMetrics::client("profiles")
            .method("hello.v1.Profiles/GetProfile")
            .record_seconds(4, 0.3);
    });
    assert!(handle.render().contains(
        "rpc_client_call_duration_seconds_count{rpc_system_name=\"grpc\",\
         rpc_method=\"hello.v1.Profiles/GetProfile\",client=\"profiles\",\
         rpc_status_code=\"DEADLINE_EXCEEDED\"} 1"
    ));
}

#[test]
fn in_flight_counts_calls_until_their_guard_drops() {
    let (recorder, handle) = common::build(&MetricsSettings::default());
    let series = "rpc_server_in_flight_calls{rpc_system_name=\"grpc\",rpc_method=\"m/A\"}";
    let method = metrics::with_local_recorder(&recorder, || RpcMetrics::server().method("m/A"));
    let (a, b) =
        metrics::with_local_recorder(&recorder, || (method.in_flight(), method.in_flight()));
    assert!(handle.render().contains(&format!("{series} 2\n")));
    drop(a);
    assert!(handle.render().contains(&format!("{series} 1\n")));
    drop(b);
    assert!(handle.render().contains(&format!("{series} 0\n")));
}
