//! Trace context through the HTTP server stack and the HTTP client, with a
//! capture subscriber. Kept apart from the other tests: a test without a
//! subscriber running first in the same process can leave the span call
//! sites cached as disabled for a moment, which would make these flaky.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{any, get};
use boost_http::client::{HttpClient, HttpClientSettings};
use boost_http::{HttpSettings, Problem, server};
use boost_tracing::testing::Capture;

async fn hello(Path(name): Path<String>) -> Result<Json<serde_json::Value>, Problem> {
    tracing::info!("greeting");
    Ok(Json(
        serde_json::json!({ "message": format!("Hello, {name}!") }),
    ))
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn handler_logs_carry_the_callers_trace_id() {
    let capture = Capture::new();
    let _guard = capture.set_default();
    let app = Router::new()
        .route("/v1/hello/{name}", get(hello))
        .layer(server::stack(&HttpSettings::default()));
    let base = serve(app).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = reqwest::Client::new()
        .get(format!("{base}/v1/hello/ada"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let event = capture.event_with_message("greeting").unwrap();
    assert_eq!(event.trace_id.unwrap().to_string(), trace_id);
    let span = capture
        .wait_for_span("GET /v1/hello/{name}", Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no server span; spans: {:?}", capture.spans()));
    assert_eq!(span.trace_id.to_string(), trace_id);
    assert_eq!(span.attributes["http.route"], "/v1/hello/{name}");
    assert_eq!(span.attributes["http.response.status_code"], 200);
}

/// A fake upstream: `answer(n)` for the `n`th request; keeps the last request's headers.
struct Upstream {
    last_headers: Arc<Mutex<HeaderMap>>,
    url: String,
}

async fn upstream<F, Fut>(answer: F) -> Upstream
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = axum::response::Response> + Send + 'static,
{
    let count = Arc::new(AtomicUsize::new(0));
    let last_headers = Arc::new(Mutex::new(HeaderMap::new()));
    let h = Arc::clone(&last_headers);
    let app = Router::new().fallback(any(move |headers: HeaderMap| {
        let n = count.fetch_add(1, Ordering::SeqCst);
        *h.lock().unwrap() = headers;
        answer(n)
    }));
    Upstream {
        last_headers,
        url: serve(app).await,
    }
}

/// A served request calls the upstream: the upstream sees the request id and
/// the trace, and the call inherits the served request's deadline.
#[tokio::test]
async fn calls_made_while_serving_carry_the_request_id_trace_and_deadline() {
    let capture = boost_tracing::testing::Capture::new();
    let _guard = capture.set_default();
    let upstream = upstream(|n| async move {
        if n == 1 {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        "ok".into_response()
    })
    .await;
    let mut settings = HttpClientSettings::with_base_urls([upstream.url.clone()]);
    settings.timeout = Duration::from_secs(60);
    // The time left is sent on: what the upstream sees shows which deadline
    // the call had (the served request's 2 s, not the client's own 60 s).
    settings.deadline_header = Some("x-request-timeout-ms".into());
    let client = HttpClient::new("cars", &settings).unwrap();
    let app = Router::new()
        .route(
            "/quote",
            axum::routing::get(move || {
                let client = client.clone();
                async move {
                    let started = Instant::now();
                    match client.get("/cars").send().await {
                        Ok(r) => {
                            format!("{} {}", r.status().as_u16(), started.elapsed().as_millis())
                        }
                        Err(e) => format!("{} {}", e, started.elapsed().as_millis()),
                    }
                }
            }),
        )
        .layer(boost_http::server::stack(&{
            let mut s = boost_http::HttpSettings::default();
            // Room for the first call's new upstream connection on a loaded machine.
            s.request_timeout = Duration::from_secs(2);
            s
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let http = reqwest::Client::new();
    let response = http
        .get(format!("{base}/quote"))
        .header("x-request-id", "req-77")
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    {
        let seen = upstream.last_headers.lock().unwrap();
        assert_eq!(seen["x-request-id"], "req-77");
        let traceparent = seen["traceparent"].to_str().unwrap();
        assert!(
            traceparent.starts_with(&format!("00-{trace_id}-")),
            "{traceparent}"
        );
        let left: u64 = seen["x-request-timeout-ms"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (1..=2000).contains(&left),
            "the call inherits the served request's 2 s deadline, not the client's 60 s: {left} ms"
        );
    }

    // The second upstream call hangs: the served request's 2 s deadline,
    // not the client's 60 s timeout, ends it.
    let started = Instant::now();
    let response = http.get(format!("{base}/quote")).send().await.unwrap();
    // Well under the client's own 60 s timeout.
    assert!(started.elapsed() < Duration::from_secs(20));
    // Both deadlines are the same instant: either the client's timeout
    // reaches the handler first, or the server answers 504.
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(
        status == 504 || text.contains("no answer within"),
        "{status} {text}"
    );
}

/// With the client's own span filtered out (`boost_http=warn`), a call still
/// continues the caller's trace: `traceparent` comes from the current span.
#[tokio::test]
async fn a_filtered_out_client_span_still_sends_the_callers_trace() {
    use boost_tracing::OpenTelemetrySpanExt as _;
    use opentelemetry::trace::TraceContextExt as _;
    use tracing::Instrument as _;
    let capture = Capture::with_filter("info,boost_http=warn");
    let _guard = capture.set_default();
    let upstream = upstream(|_| async { "ok".into_response() }).await;
    let client = HttpClient::new(
        "cars",
        &HttpClientSettings::with_base_urls([upstream.url.clone()]),
    )
    .unwrap();
    let outer = tracing::info_span!("handler");
    let trace_id = outer.context().span().span_context().trace_id();
    assert_ne!(
        trace_id,
        opentelemetry::trace::TraceId::INVALID,
        "the outer span is traced"
    );
    let response = client.get("/cars").send().instrument(outer).await.unwrap();
    assert_eq!(response.status(), 200);
    let seen = upstream.last_headers.lock().unwrap();
    let traceparent = seen
        .get("traceparent")
        .expect("traceparent sent")
        .to_str()
        .unwrap();
    assert!(
        traceparent.starts_with(&format!("00-{trace_id}-")),
        "{traceparent} continues {trace_id}"
    );
}
