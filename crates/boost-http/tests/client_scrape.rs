//! The HTTP client's metric families as a real service exposes them: recorded
//! by `HttpClient` calls (an answer, retries, an ejection, a timeout) into the
//! kit's recorder, rendered as `/metrics` renders them, and checked by
//! `promtool check metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::any;
use boost_config::ServiceIdentity;
use boost_http::client::{HttpClient, HttpClientError, HttpClientSettings};
use boost_metrics::{MetricsHandle, MetricsSettings};

/// Serves `answer(n)` for the `n`th request; returns its base URL.
async fn upstream<F>(answer: F) -> String
where
    F: Fn(usize) -> axum::response::Response + Clone + Send + Sync + 'static,
{
    let count = Arc::new(AtomicUsize::new(0));
    let app = Router::new().fallback(any(move || {
        let response = answer(count.fetch_add(1, Ordering::SeqCst));
        async move { response }
    }));
    serve(app).await
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// The scrape after a realistic client session.
fn scrape_after_client_calls() -> String {
    let identity = ServiceIdentity::new("hello-service", "1.2.3");
    let (recorder, handle) = MetricsHandle::build(&MetricsSettings::default(), &identity).unwrap();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                // Every other request a 503 (retried), the rest 200.
                let flaky = upstream(|n| {
                    if n % 2 == 0 {
                        StatusCode::SERVICE_UNAVAILABLE.into_response()
                    } else {
                        "ok".into_response()
                    }
                })
                .await;
                let mut settings = HttpClientSettings::with_base_urls([flaky]);
                settings.retry.initial_backoff = Duration::from_millis(1);
                settings.retry.max_backoff = Duration::from_millis(2);
                let cars = HttpClient::new("cars", &settings).unwrap();
                for _ in 0..10 {
                    assert_eq!(cars.get("/quotes").send().await.unwrap().status(), 200);
                }

                // A base URL that always fails is ejected; its peer answers.
                let broken = upstream(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()).await;
                let healthy = upstream(|_| "ok".into_response()).await;
                let mut settings = HttpClientSettings::with_base_urls([broken, healthy]);
                settings.ejection.consecutive_failures = 2;
                settings.retry.max_attempts = 1;
                let pair = HttpClient::new("pair", &settings).unwrap();
                for _ in 0..30 {
                    let _ = pair.get("/x").send().await.unwrap();
                }

                // No answer within the deadline: recorded with `error_type`.
                let hanging = serve(Router::new().fallback(any(|| async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    "never"
                })))
                .await;
                let mut settings = HttpClientSettings::with_base_urls([hanging]);
                settings.timeout = Duration::from_millis(50);
                settings.retry.max_attempts = 1;
                let slow = HttpClient::new("slow", &settings).unwrap();
                let error = slow.get("/x").send().await.unwrap_err();
                assert!(
                    matches!(error, HttpClientError::Timeout { .. }),
                    "{error:?}"
                );
            });
    });
    handle.render()
}

#[test]
fn the_client_families_are_in_the_scrape_with_their_semconv_labels() {
    let scrape = scrape_after_client_calls();
    let lines = |prefix: &str| -> Vec<&str> {
        scrape
            .lines()
            .filter(|line| line.starts_with(prefix))
            .collect()
    };
    let answered = lines("http_client_request_duration_seconds_count{");
    assert!(
        answered.iter().any(|l| l.contains(r#"client="cars""#)
            && l.contains(r#"http_request_method="GET""#)
            && l.contains(r#"http_response_status_code="200""#)
            && l.contains(r#"server_address="127.0.0.1""#)
            && l.contains("server_port=\"")
            && l.ends_with(" 10")),
        "ten answered GETs of `cars` in one series:\n{scrape}"
    );
    assert!(
        answered.iter().any(|l| l.contains(r#"client="slow""#)
            && l.contains(r#"error_type="timeout""#)
            && !l.contains("http_response_status_code")),
        "the timeout recorded with error_type, no status:\n{scrape}"
    );
    assert!(
        lines("http_client_retries_total{")
            .iter()
            .any(|l| l.contains(r#"client="cars""#) && l.contains(r#"outcome="sent""#)),
        "the retries of the 503s:\n{scrape}"
    );
    assert!(
        lines("http_client_ejections_total{")
            .iter()
            .any(|l| l.contains(r#"client="pair""#)),
        "the failing base URL's ejection:\n{scrape}"
    );
}

#[test]
#[ignore = "needs promtool"]
fn promtool_finds_nothing_in_the_client_families() {
    let scrape = scrape_after_client_calls();
    assert!(scrape.contains("http_client_request_duration_seconds_bucket{"));
    if let Err(findings) = boost_test_promtool::check_metrics(&scrape) {
        panic!("promtool check metrics reported findings:\n{findings}\n--- scrape ---\n{scrape}");
    }
}
