//! The trace layer: one server span per call, child of the caller's span, with
//! the RPC attributes and final status; handler logs carry its trace id; the
//! request id is kept or made, recorded, and a made one echoed on failures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod server_support;

use std::time::Duration;

use boost_rpc::server::ServerSettings;
use boost_tracing::OpenTelemetrySpanExt;
use boost_tracing::testing::Capture;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use server_support::{TestGreeter, client, hello, serve};

const SPAN: &str = "hello.v1.Greeter/SayHello";

#[tokio::test]
async fn call_runs_in_one_server_span_child_of_the_callers_span() {
    let capture = Capture::new();
    let _guard = capture.set_default();
    let addr = serve(ServerSettings::default(), TestGreeter::default()).await;
    let mut client = client(addr).await;

    let caller = tracing::info_span!("test.caller");
    let caller_cx = caller.context();
    let mut request = hello("ada");
    boost_tracing::propagation::inject_metadata(&caller_cx, request.metadata_mut());
    let response = client.say_hello(request).await.unwrap();
    assert!(
        response.metadata().get("x-request-id").is_none(),
        "a generated id is not echoed on a successful gRPC call"
    );

    let span = capture.wait_for_span(SPAN, Duration::from_secs(5)).await;
    let span = span.unwrap_or_else(|| panic!("{:#?}", capture.spans()));
    let server_spans = capture.spans().iter().filter(|s| s.name == SPAN).count();
    assert_eq!(server_spans, 1);

    let caller_sc = caller_cx.span().span_context().clone();
    assert_eq!(span.trace_id, caller_sc.trace_id());
    assert_eq!(span.parent_span_id, Some(caller_sc.span_id()));
    assert!(span.parent_is_remote);
    assert_eq!(span.kind, SpanKind::Server);
    assert_eq!(span.attributes["rpc.system"], "grpc");
    assert_eq!(span.attributes["rpc.service"], "hello.v1.Greeter");
    assert_eq!(span.attributes["rpc.method"], "SayHello");
    assert_eq!(span.attributes["rpc.grpc.status_code"], 0);
    let request_id = span.attributes["request_id"].as_str().unwrap();
    assert_eq!(request_id.len(), 32, "a generated id: {request_id}");
    assert!(request_id.bytes().all(|b| b.is_ascii_hexdigit()));

    // The handler's log line is inside the server span.
    let event = capture.event_with_message("greeting").unwrap();
    assert_eq!(event.trace_id, Some(span.trace_id));
    assert_eq!(event.span_id, Some(span.span_id));
}

#[tokio::test]
async fn callers_request_id_is_kept_and_recorded_not_echoed() {
    let capture = Capture::new();
    let _guard = capture.set_default();
    let addr = serve(ServerSettings::default(), TestGreeter::default()).await;
    let mut client = client(addr).await;

    let mut request = hello("ada");
    request
        .metadata_mut()
        .insert("x-request-id", "req-42".parse().unwrap());
    let response = client.say_hello(request).await.unwrap();
    assert!(
        response.metadata().get("x-request-id").is_none(),
        "the caller knows its own id"
    );

    let span = capture.wait_for_span(SPAN, Duration::from_secs(5)).await;
    let span = span.unwrap_or_else(|| panic!("{:#?}", capture.spans()));
    assert_eq!(span.attributes["request_id"], "req-42");
}

#[tokio::test]
async fn span_records_error_statuses_and_marks_server_faults() {
    let capture = Capture::new();
    let _guard = capture.set_default();
    let addr = serve(ServerSettings::default(), TestGreeter::default()).await;
    let mut client = client(addr).await;

    let status = client.say_hello(hello("fail")).await.unwrap_err();
    let span = capture
        .wait_for_span(SPAN, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(span.attributes["rpc.grpc.status_code"], 5); // NOT_FOUND: the caller's problem
    // A failed call tells the caller (who sent no id) the id to quote.
    let echoed = status.metadata().get("x-request-id").expect("id echoed");
    assert_eq!(
        echoed.to_str().unwrap(),
        span.attributes["request_id"].as_str().unwrap()
    );
    assert!(!matches!(span.status, Status::Error { .. }));
    assert_eq!(span.parent_span_id, None, "no caller context: a new trace");

    capture.clear();
    client.say_hello(hello("panic")).await.unwrap_err();
    let span = capture
        .wait_for_span(SPAN, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(span.attributes["rpc.grpc.status_code"], 13); // INTERNAL
    assert!(matches!(span.status, Status::Error { .. }));
    let logged = capture
        .event_with_message("handler panicked; answered INTERNAL")
        .unwrap();
    assert!(logged.fields["panic"].as_str().unwrap().contains("hunter2"));
    assert_eq!(logged.trace_id, Some(span.trace_id));
}
