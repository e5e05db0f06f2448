//! Observability of a call: span with RPC attributes and retry events, trace
//! context and request id upstream, per-call and per-attempt metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use boost_rpc::client::ClientSettings;
use boost_test_proto::greeter_client::GreeterClient;
use boost_tracing::testing::Capture;
use client_support::{Fault, Upstream, hello};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

fn labels_match(key: &metrics::Key, want: &[(&str, &str)]) -> bool {
    want.iter()
        .all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v))
}

#[tokio::test]
async fn a_retried_call_is_one_span_one_duration_and_two_attempts() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();
    let capture = Capture::new();
    let _guard = capture.set_default();

    let upstream = Upstream::start(Fault::UnavailableEvery(2)).await;
    let mut settings = ClientSettings::with_endpoints([upstream.url()]);
    // Not a deadline test: the first call also connects, which can outlast
    // the 300 ms default on a loaded machine.
    settings.timeout = std::time::Duration::from_secs(10);
    settings.retry.idempotent_methods = vec!["hello.v1.Greeter/SayHello".into()];
    let mut greeter = GreeterClient::new(boost_rpc::client("observed", &settings).unwrap());
    greeter.say_hello(hello(1)).await.unwrap();

    // The span: OTel RPC semantic conventions, the retry as an event.
    let span = capture
        .span_named("hello.v1.Greeter/SayHello")
        .expect("client span");
    assert_eq!(span.attributes["rpc.system"], "grpc");
    assert_eq!(span.attributes["rpc.service"], "hello.v1.Greeter");
    assert_eq!(span.attributes["rpc.method"], "SayHello");
    assert_eq!(span.attributes["rpc.grpc.status_code"], 0);
    assert_eq!(span.attributes["server.address"], upstream.addr.to_string());
    assert!(
        span.events
            .iter()
            .any(|e| e.name == "attempt failed, retrying"),
        "{:?}",
        span.events
    );

    // Upstream got the client span's trace context and one request id for both attempts.
    let seen = upstream.state.seen();
    assert_eq!(seen.len(), 2);
    let traceparent = seen[1].traceparent.clone().expect("traceparent sent");
    assert!(
        traceparent.contains(&span.trace_id.to_string()),
        "{traceparent}"
    );
    assert!(
        traceparent.contains(&span.span_id.to_string()),
        "{traceparent}"
    );
    let id = seen[0].request_id.clone().expect("x-request-id sent");
    assert_eq!(id.len(), 32);
    assert_eq!(seen[1].request_id.as_deref(), Some(id.as_str()));

    // Metrics.
    let snapshot = snapshotter.snapshot().into_vec();
    let find = |name: &str, want: &[(&str, &str)]| {
        snapshot
            .iter()
            .find(|(k, _, _, _)| k.key().name() == name && labels_match(k.key(), want))
            .map(|(_, _, _, v)| v)
    };
    let call = [
        ("rpc_system_name", "grpc"),
        ("rpc_method", "hello.v1.Greeter/SayHello"),
        ("rpc_status_code", "OK"),
        ("client", "observed"),
    ];
    match find("rpc_client_call_duration_seconds", &call) {
        Some(DebugValue::Histogram(v)) => assert_eq!(v.len(), 1, "one sample per logical call"),
        other => panic!("no call histogram: {other:?}"),
    }
    for outcome in ["UNAVAILABLE", "OK"] {
        let want = [
            ("client", "observed"),
            ("outcome", outcome),
            ("endpoint", &upstream.addr.to_string()),
        ];
        assert!(
            matches!(
                find("rpc_client_attempts_total", &want),
                Some(DebugValue::Counter(1))
            ),
            "attempt {outcome}"
        );
    }
    assert!(matches!(
        find("rpc_client_retries_total", &[("client", "observed")]),
        Some(DebugValue::Counter(1))
    ));
    match find(
        "rpc_client_endpoints",
        &[("client", "observed"), ("state", "ready")],
    ) {
        Some(DebugValue::Gauge(g)) => assert_eq!(g.into_inner(), 1.0),
        other => panic!("no endpoints gauge: {other:?}"),
    }
}
