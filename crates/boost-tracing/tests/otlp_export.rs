//! OTLP/gRPC export, received by an in-test collector generated from the official protos.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use boost_config::{Secret, ServiceIdentity};
use boost_tracing::testing::LogLines as Lines;
use boost_tracing::{LogFormat, TracingSettings, builder};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use tokio_stream::wrappers::TcpListenerStream;

/// One export request and the `x-api-key` header it came with.
type Export = (ExportTraceServiceRequest, Option<String>);

/// What the collector received.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Export>>>);

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let key = request
            .metadata()
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        self.0.lock().unwrap().push((request.into_inner(), key));
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

async fn collector() -> (SocketAddr, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Received::default();
    let service = TraceServiceServer::new(received.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
    });
    (addr, received)
}

fn identity() -> ServiceIdentity {
    let mut id = ServiceIdentity::new("hello-service", "1.2.3");
    id.environment = "staging".into();
    id.team = "payments".into();
    id
}

fn settings(endpoint: String) -> TracingSettings {
    let mut s = TracingSettings::default();
    s.format = LogFormat::Json;
    s.otlp.enabled = true;
    s.otlp.endpoint = endpoint.into();
    s.otlp.scheduled_delay = Duration::from_millis(50);
    s.otlp.timeout = Duration::from_millis(500);
    // Written as an environment variable would give it
    // (`…__OTLP__HEADERS__X_API_KEY`); the collector receives `x-api-key`.
    s.otlp
        .headers
        .insert("x_api_key".into(), Secret::new("k3y".into()));
    s
}

fn string_attrs(attrs: &[KeyValue]) -> BTreeMap<String, String> {
    attrs
        .iter()
        .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some((kv.key.clone(), s.clone())),
            _ => None,
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn spans_reach_the_collector_with_resource_attributes_and_log_trace_ids() {
    let (addr, received) = collector().await;
    let lines = Lines::default();
    let (dispatch, guard) = builder(&settings(format!("http://{addr}")), &identity())
        .ignore_rust_log()
        .blocking_writer(lines.clone())
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let parent = tracing::info_span!("handle_request", user = "ada", token = "tok-s3cret");
        let _p = parent.enter();
        let child = tracing::info_span!("load_profile");
        let _c = child.enter();
        tracing::info!(password = "pw-s3cret", "loaded");
    });
    // On a current-thread runtime: the collector runs on this thread while shutdown flushes.
    guard.shutdown().await;

    let requests = received.0.lock().unwrap().clone();
    assert!(!requests.is_empty(), "nothing exported");
    assert_eq!(requests[0].1.as_deref(), Some("k3y"), "headers are sent");
    let mut spans = Vec::new();
    for (req, _) in &requests {
        for rs in &req.resource_spans {
            let resource = string_attrs(&rs.resource.as_ref().unwrap().attributes);
            assert_eq!(resource["service.name"], "hello-service");
            assert_eq!(resource["service.version"], "1.2.3");
            assert_eq!(resource["deployment.environment.name"], "staging");
            assert_eq!(resource["service.namespace"], "payments");
            for ss in &rs.scope_spans {
                spans.extend(ss.spans.iter().cloned());
            }
        }
    }
    let parent = spans.iter().find(|s| s.name == "handle_request").unwrap();
    let child = spans.iter().find(|s| s.name == "load_profile").unwrap();
    assert_eq!(child.trace_id, parent.trace_id);
    assert_eq!(child.parent_span_id, parent.span_id);
    assert_eq!(string_attrs(&parent.attributes)["user"], "ada");
    // Redaction covers exported span attributes and span events too.
    assert_eq!(string_attrs(&parent.attributes)["token"], "[REDACTED]");
    let loaded = child.events.iter().find(|e| e.name == "loaded").unwrap();
    assert_eq!(string_attrs(&loaded.attributes)["password"], "[REDACTED]");
    assert!(!format!("{requests:?}").contains("s3cret"));
    assert!(
        child.events.iter().any(|e| e.name == "loaded"),
        "log events become span events"
    );

    let line = &lines.json()[0];
    assert_eq!(line["trace_id"], hex(&child.trace_id));
    assert_eq!(line["span_id"], hex(&child.span_id));
}

#[test]
fn dropping_the_guard_with_an_unreachable_collector_returns_promptly() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut s = settings(format!("http://127.0.0.1:{port}"));
        s.flush_timeout = Duration::from_millis(500);
        let (dispatch, guard) = builder(&s, &identity())
            .ignore_rust_log()
            .writer(std::io::sink())
            .build()
            .unwrap();
        tracing::dispatcher::with_default(&dispatch, || {
            for i in 0..100 {
                tracing::info_span!("work", i).in_scope(|| tracing::info!("x"));
            }
        });
        let started = Instant::now();
        drop(guard); // synchronous drop on the runtime's only thread
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "drop took {took:?}");
    });
}

#[tokio::test(flavor = "current_thread")]
async fn drop_inside_current_thread_runtime_that_serves_the_collector_does_not_hang() {
    let (addr, _received) = collector().await;
    let mut s = settings(format!("http://{addr}"));
    s.flush_timeout = Duration::from_millis(500);
    let (dispatch, guard) = builder(&s, &identity())
        .ignore_rust_log()
        .writer(std::io::sink())
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("pending").in_scope(|| tracing::info!("x"));
    });
    let started = Instant::now();
    // The collector cannot answer while this thread blocks in drop: the flush must time out.
    drop(guard);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn invalid_otlp_settings_are_clear_errors_without_secrets() {
    let mut s = settings("not a uri".into());
    let err = builder(&s, &identity()).build().unwrap_err().to_string();
    assert!(
        err.contains("not a uri") && err.contains("tracing.otlp"),
        "{err}"
    );
    s.otlp.endpoint = "http://127.0.0.1:4317".into();
    s.otlp.sample_ratio = 1.5;
    let err = builder(&s, &identity()).build().unwrap_err().to_string();
    assert!(err.contains("otlp.sample_ratio"), "{err}");
    s.otlp.sample_ratio = 1.0;
    s.otlp
        .headers
        .insert("x-bad".into(), Secret::new("line\nbreak-s3cret".into()));
    let err = builder(&s, &identity()).build().unwrap_err().to_string();
    assert!(err.contains("x-bad") && !err.contains("s3cret"), "{err}");
}

#[test]
fn export_needs_no_application_runtime() {
    // The collector runs on a runtime of its own thread; the service side has none at all.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let collector_thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (addr, received) = collector().await;
            addr_tx.send((addr, received)).unwrap();
            let _ = stop_rx.await;
        });
    });
    let (addr, received) = addr_rx.recv().unwrap();

    let (dispatch, guard) = builder(&settings(format!("http://{addr}")), &identity())
        .ignore_rust_log()
        .writer(std::io::sink())
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("no_runtime_here").in_scope(|| tracing::info!("x"));
    });
    drop(guard); // flushes synchronously

    let exported: Vec<String> = received
        .0
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(req, _)| req.resource_spans.iter())
        .flat_map(|rs| rs.scope_spans.iter())
        .flat_map(|ss| ss.spans.iter().map(|s| s.name.clone()))
        .collect();
    assert_eq!(exported, vec!["no_runtime_here".to_owned()]);
    stop_tx.send(()).unwrap();
    collector_thread.join().unwrap();
}
