//! The server stack over a real socket: replies, problem+json errors, the
//! body limit, shedding, panics, deadlines, request ids, trace context and
//! the duration histogram.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Json, Router};
use boost_http::{HttpSettings, Problem, server};
use boost_rpc::ServiceError;
use tokio::sync::Notify;

async fn hello(Path(name): Path<String>) -> Result<Json<serde_json::Value>, Problem> {
    if name.len() > 16 {
        Err(ServiceError::invalid_argument(
            "name is longer than 16 bytes",
        ))?;
    }
    tracing::info!("greeting");
    let deadline = boost_rpc::deadline::remaining().map(|d| d.as_millis() as u64);
    Ok(Json(
        serde_json::json!({ "message": format!("Hello, {name}!"), "deadline_ms": deadline }),
    ))
}

async fn panics() -> &'static str {
    let secret = "hunter2";
    if std::hint::black_box(true) {
        panic!("boom: secret={secret}");
    }
    "unreachable"
}

fn app(settings: &HttpSettings, gate: Arc<Notify>) -> Router {
    Router::new()
        .route("/v1/hello/{name}", get(hello))
        .route("/echo", post(|body: axum::body::Bytes| async move { body }))
        .route("/panic", get(panics))
        .route(
            "/slow",
            get(move || {
                let gate = Arc::clone(&gate);
                async move {
                    gate.notified().await;
                    "done"
                }
            }),
        )
        .layer(server::stack(settings))
}

async fn serve(settings: HttpSettings, gate: Arc<Notify>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app(&settings, gate);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn settings() -> HttpSettings {
    let mut settings = HttpSettings::default();
    settings.max_request_body = boost_config::ByteSize::b(1024);
    settings.concurrency_limit = 2;
    settings.request_timeout = Duration::from_secs(20);
    settings.deadline_header = Some("x-request-timeout-ms".into());
    settings
}

async fn problem(response: reqwest::Response) -> serde_json::Value {
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn replies_echo_request_ids_and_map_errors_to_problems() {
    let base = serve(settings(), Arc::new(Notify::new())).await;
    let http = reqwest::Client::new();

    let ok = http
        .get(format!("{base}/v1/hello/ada"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let generated = ok.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 32, "a fresh id is echoed");
    let body: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(body["message"], "Hello, ada!");

    let own = http
        .get(format!("{base}/v1/hello/ada"))
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.headers()["x-request-id"],
        "req-42",
        "the caller's id is kept"
    );

    let bad = http
        .get(format!("{base}/v1/hello/{}", "x".repeat(40)))
        .header("x-request-id", "req-43")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let json = problem(bad).await;
    assert_eq!(json["status"], 400);
    assert_eq!(json["title"], "Bad Request");
    assert_eq!(json["detail"], "name is longer than 16 bytes");
    assert_eq!(json["request_id"], "req-43");

    let missing = http.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(problem(missing).await["status"], 404);
}

#[tokio::test]
async fn oversized_bodies_get_413_with_or_without_a_length() {
    let base = serve(settings(), Arc::new(Notify::new())).await;
    let http = reqwest::Client::new();
    let small = http
        .post(format!("{base}/echo"))
        .body("x".repeat(100))
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 200);

    // Refused from its `content-length`, before the handler's request-id
    // scope exists: the id still reaches the problem body.
    let large = http
        .post(format!("{base}/echo"))
        .header("x-request-id", "req-413")
        .body("x".repeat(4096))
        .send()
        .await
        .unwrap();
    assert_eq!(large.status(), 413);
    let body = problem(large).await;
    assert_eq!(body["status"], 413);
    assert_eq!(body["request_id"], "req-413", "{body}");

    // Chunked (no content-length): refused once the handler reads past the limit.
    let chunks = futures::stream::iter(
        (0..8).map(|_| Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b'y'; 512]))),
    );
    let streamed = http
        .post(format!("{base}/echo"))
        .header("x-request-id", "req-413-chunked")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 413);
    let body = problem(streamed).await;
    assert_eq!(body["request_id"], "req-413-chunked", "{body}");
}

#[tokio::test]
async fn overload_is_shed_with_503_and_retry_after() {
    let gate = Arc::new(Notify::new());
    let base = serve(settings(), Arc::clone(&gate)).await;
    let http = reqwest::Client::new();
    let slow: Vec<_> = (0..2)
        .map(|_| tokio::spawn(http.get(format!("{base}/slow")).send()))
        .collect();
    // Wait until both hold their slots (the limit is 2).
    let mut shed = None;
    // Up to 10 s for both slots to fill on a loaded machine.
    for _ in 0..1000 {
        let response = http
            .get(format!("{base}/v1/hello/ada"))
            .header("x-request-id", "shed-me-1")
            .send()
            .await
            .unwrap();
        if response.status() == 503 {
            shed = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let shed = shed.expect("a third request is shed while two are in flight");
    assert_eq!(shed.headers()["retry-after"], "1");
    assert_eq!(shed.headers()["x-request-id"], "shed-me-1");
    let body = problem(shed).await;
    assert_eq!(body["status"], 503);
    // Refused before the handler's request-id scope: the body still names it.
    assert_eq!(body["request_id"], "shed-me-1");
    gate.notify_waiters();
    for request in slow {
        // Notify may fire before a handler waits: release again until done.
        let response = loop {
            gate.notify_waiters();
            if request.is_finished() {
                break request.await.unwrap().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn panics_answer_500_without_details() {
    let base = serve(settings(), Arc::new(Notify::new())).await;
    let response = reqwest::get(format!("{base}/panic")).await.unwrap();
    assert_eq!(response.status(), 500);
    let text = response.text().await.unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["status"], 500);
}

#[tokio::test]
async fn the_deadline_header_shortens_the_timeout_and_handlers_see_it() {
    let base = serve(settings(), Arc::new(Notify::new())).await;
    let http = reqwest::Client::new();
    let response = http
        .get(format!("{base}/v1/hello/ada"))
        .header("x-request-timeout-ms", "5000")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    let left = body["deadline_ms"].as_u64().unwrap();
    assert!(left <= 5000 && left > 1000, "handler saw {left} ms left");

    let slow = http
        .get(format!("{base}/slow"))
        .header("x-request-timeout-ms", "200")
        .send()
        .await
        .unwrap();
    assert_eq!(slow.status(), 504);
    assert_eq!(problem(slow).await["status"], 504);
}

#[test]
fn the_histogram_has_route_templates_and_folded_methods() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            use tower::ServiceExt;
            let app = app(&settings(), Arc::new(Notify::new()));
            for (method, path) in [
                ("GET", "/v1/hello/ada"),
                ("GET", "/v1/hello/bob"),
                ("BREW", "/v1/hello/ada"),
                ("GET", "/secret/path/123"),
            ] {
                let request = http::Request::builder()
                    .method(method)
                    .uri(path)
                    .body(axum::body::Body::empty())
                    .unwrap();
                let _ = app.clone().oneshot(request).await.unwrap();
            }
        });
    });
    let mut series = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        if key.key().name() != "http_server_request_duration_seconds" {
            continue;
        }
        let labels: Vec<String> = key
            .key()
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let DebugValue::Histogram(values) = value else {
            panic!("not a histogram")
        };
        series.push((labels.join(","), values.len()));
    }
    series.sort();
    assert_eq!(
        series,
        vec![
            (
                "http_request_method=GET,http_route=/v1/hello/{name},http_response_status_code=200"
                    .to_owned(),
                2
            ),
            (
                "http_request_method=GET,http_route=unmatched,http_response_status_code=404"
                    .to_owned(),
                1
            ),
            (
                "http_request_method=_OTHER,http_route=/v1/hello/{name},http_response_status_code=405"
                    .to_owned(),
                1
            ),
        ]
    );
}
