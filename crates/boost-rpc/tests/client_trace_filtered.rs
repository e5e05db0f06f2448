//! With the kit's client span filtered out (`boost_rpc=warn`), a call still
//! continues the caller's trace: `traceparent` comes from the current span.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use boost_rpc::client::ClientSettings;
use boost_test_proto::greeter_client::GreeterClient;
use boost_tracing::OpenTelemetrySpanExt as _;
use boost_tracing::testing::Capture;
use client_support::{Fault, Upstream, hello};
use opentelemetry::trace::TraceContextExt as _;
use tracing::Instrument as _;

#[tokio::test]
async fn a_filtered_out_client_span_still_sends_the_callers_trace() {
    let capture = Capture::with_filter("info,boost_rpc=warn");
    let _guard = capture.set_default();
    let upstream = Upstream::start(Fault::None).await;
    let mut settings = ClientSettings::with_endpoints([upstream.url()]);
    // Not a deadline test: the first call also connects.
    settings.timeout = std::time::Duration::from_secs(10);
    let mut greeter = GreeterClient::new(boost_rpc::client("filtered", &settings).unwrap());
    let outer = tracing::info_span!("handler");
    let trace_id = outer.context().span().span_context().trace_id();
    assert_ne!(trace_id, opentelemetry::trace::TraceId::INVALID);
    greeter.say_hello(hello(1)).instrument(outer).await.unwrap();
    assert!(
        capture.span_named("hello.v1.Greeter/SayHello").is_none(),
        "the client span is filtered out"
    );
    let seen = upstream.state.seen();
    let traceparent = seen[0].traceparent.clone().expect("traceparent sent");
    assert!(
        traceparent.starts_with(&format!("00-{trace_id}-")),
        "{traceparent} continues {trace_id}"
    );
}
