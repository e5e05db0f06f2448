//! One SayHello is one trace across both services: hello-service's server
//! span, its client span, and profile-service's server span share a trace id
//! and nest correctly — and both services' JSON log lines for that call carry
//! the same `trace_id`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Example, Launch, say_hello};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tokio_stream::wrappers::TcpListenerStream;

/// A span as received, with the service that exported it.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    name: String,
    kind: i32,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
}

/// An OTLP/gRPC trace collector (the official protos) keeping every span.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    Value::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push(Received {
                        service: service.clone(),
                        name: span.name,
                        kind: span.kind,
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: hex(&span.parent_span_id),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn collector() -> (SocketAddr, Collector) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let collector = Collector::default();
    let service = TraceServiceServer::new(collector.clone());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    (addr, collector)
}

fn traced(example: Example, collector: SocketAddr, filter: &str) -> Launch {
    Launch::new(example)
        .set("TRACING__OTLP__ENABLED", "true")
        .set("TRACING__OTLP__ENDPOINT", format!("http://{collector}"))
        .set("TRACING__OTLP__SCHEDULED_DELAY", "100ms")
        .set("TRACING__FILTER", filter)
}

/// Whether `ancestor` is `span` or one of its ancestors among `spans`.
fn descends_from(spans: &[Received], span: &Received, ancestor: &Received) -> bool {
    let mut current = Some(span);
    for _ in 0..32 {
        let Some(s) = current else { return false };
        if s.span_id == ancestor.span_id {
            return true;
        }
        current = spans.iter().find(|p| p.span_id == s.parent_span_id);
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_say_hello_is_one_trace_across_both_services() {
    let (addr, collector) = collector().await;
    let profiles = traced(Example::Profile, addr, "info,profile_service=debug").start();
    let hello = traced(Example::Hello, addr, "info,hello_service=debug")
        .upstream(profiles.grpc)
        .start();
    let mut client = hello.greeter().await;
    assert_eq!(
        say_hello(&mut client, "noor").await.unwrap(),
        "Hallo, noor!",
        "{}",
        hello.dump()
    );

    // Wait for the three spans of the call.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (hello_server, hello_client, profile_server, spans) = loop {
        let spans = collector.0.lock().unwrap().clone();
        let find = |service: &str, kind: SpanKind, method: &str| {
            spans
                .iter()
                .find(|s| s.service == service && s.kind == kind as i32 && s.name.contains(method))
                .cloned()
        };
        if let (Some(a), Some(b), Some(c)) = (
            find("hello-service", SpanKind::Server, "SayHello"),
            find("hello-service", SpanKind::Client, "GetProfile"),
            find("profile-service", SpanKind::Server, "GetProfile"),
        ) {
            break (a, b, c, spans);
        }
        assert!(
            Instant::now() < deadline,
            "missing spans after 30s; received: {spans:#?}\n{}\n{}",
            hello.dump(),
            profiles.dump()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let trace_id = hello_server.trace_id.clone();
    assert_eq!(trace_id.len(), 32);
    assert_eq!(hello_client.trace_id, trace_id, "{spans:#?}");
    assert_eq!(profile_server.trace_id, trace_id, "{spans:#?}");
    assert!(
        descends_from(&spans, &hello_client, &hello_server),
        "the client span is inside hello-service's server span: {spans:#?}"
    );
    assert!(
        descends_from(&spans, &profile_server, &hello_client),
        "profile-service's server span is a child of hello-service's client span: {spans:#?}"
    );
    assert_ne!(
        profile_server.parent_span_id, "",
        "profile-service joined the caller's trace"
    );

    // Both services logged the call under the same trace id.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logged = |service: &common::ServiceProcess| {
            service
                .json_logs()
                .iter()
                .any(|line| line["trace_id"].as_str() == Some(trace_id.as_str()))
        };
        if logged(&hello) && logged(&profiles) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no log line with trace_id {trace_id} in both services:\n{}\n{}",
            hello.dump(),
            profiles.dump()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // …and the `span_id` of each such line is a span exported for that trace.
    let logged_span_ids: Vec<String> = [&hello, &profiles]
        .iter()
        .flat_map(|service| service.json_logs())
        .filter(|line| line["trace_id"].as_str() == Some(trace_id.as_str()))
        .map(|line| line["span_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let exported = collector.0.lock().unwrap().clone();
        let unknown: Vec<&String> = logged_span_ids
            .iter()
            .filter(|id| {
                !exported
                    .iter()
                    .any(|s| s.trace_id == trace_id && &&s.span_id == id)
            })
            .collect();
        if unknown.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "log lines carry span ids {unknown:?} that no exported span of trace {trace_id} has: {exported:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
