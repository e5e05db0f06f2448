//! boost-rpc's server stack on a plain axum HTTP service: request ids,
//! deadlines, panics and shedding answer with HTTP statuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use boost_rpc::server::{self, ServerSettings};

async fn serve(settings: ServerSettings) -> SocketAddr {
    let app = Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(800)).await;
                "slept"
            }),
        )
        .route(
            "/panic",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("secret: hunter2");
                }
                "unreachable"
            }),
        )
        .layer(server::stack(&settings));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn http_calls_get_a_request_id_and_safe_error_statuses() {
    let mut settings = ServerSettings::default();
    settings.request_timeout = Some(Duration::from_millis(200));
    let addr = serve(settings).await;
    let http = reqwest::Client::new();

    let ok = http
        .get(format!("http://{addr}/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let id = ok.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);

    let started = Instant::now();
    let slow = http
        .get(format!("http://{addr}/slow"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        slow.status(),
        504,
        "request_timeout answers Gateway Timeout"
    );
    assert!(started.elapsed() < Duration::from_millis(700));

    let panicked = http
        .get(format!("http://{addr}/panic"))
        .send()
        .await
        .unwrap();
    assert_eq!(panicked.status(), 500);
    assert!(!panicked.text().await.unwrap().contains("hunter2"));
}

#[tokio::test]
async fn http_calls_over_the_concurrency_limit_get_429() {
    let mut settings = ServerSettings::default();
    settings.concurrency_limit = 1;
    let addr = serve(settings).await;
    let http = reqwest::Client::new();

    let busy = {
        let http = http.clone();
        tokio::spawn(async move { http.get(format!("http://{addr}/slow")).send().await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let shed = http
        .get(format!("http://{addr}/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(shed.status(), 429);
    assert_eq!(busy.await.unwrap().unwrap().status(), 200);
}
