//! The HTTP client against fake upstreams in the test: retries within the
//! budget, Retry-After, deadlines, idempotency, ejection, bounded bodies, and
//! what it sends (traceparent, x-request-id).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use boost_http::client::{HttpClient, HttpClientError, HttpClientSettings};

/// A fake upstream: `answer(n)` for the `n`th request (0-based); counts
/// requests and keeps the headers of the last one.
#[derive(Clone)]
struct Upstream {
    count: Arc<AtomicUsize>,
    last_headers: Arc<Mutex<HeaderMap>>,
    url: String,
}

impl Upstream {
    async fn start<F, Fut>(answer: F) -> Upstream
    where
        F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
        Fut: std::future::Future<Output = axum::response::Response> + Send + 'static,
    {
        let count = Arc::new(AtomicUsize::new(0));
        let last_headers = Arc::new(Mutex::new(HeaderMap::new()));
        let (c, h) = (Arc::clone(&count), Arc::clone(&last_headers));
        let app = Router::new().fallback(any(move |headers: HeaderMap| {
            let n = c.fetch_add(1, Ordering::SeqCst);
            *h.lock().unwrap() = headers;
            answer(n)
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Upstream {
            count,
            last_headers,
            url,
        }
    }

    fn requests(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

fn settings(urls: &[&str]) -> HttpClientSettings {
    let mut settings = HttpClientSettings::with_base_urls(urls.iter().copied());
    settings.timeout = Duration::from_secs(10);
    settings.retry.initial_backoff = Duration::from_millis(1);
    settings.retry.max_backoff = Duration::from_millis(5);
    settings
}

fn status(code: StatusCode) -> axum::response::Response {
    code.into_response()
}

#[tokio::test]
async fn ten_percent_503s_are_masked_by_retries() {
    let upstream = Upstream::start(|n| async move {
        if n % 10 == 0 {
            status(StatusCode::SERVICE_UNAVAILABLE)
        } else {
            "ok".into_response()
        }
    })
    .await;
    let client = HttpClient::new("flaky", &settings(&[&upstream.url])).unwrap();
    for i in 0..200 {
        let response = client.get("/cars").send().await.unwrap();
        assert_eq!(response.status(), 200, "request {i} was not masked");
    }
    let seen = upstream.requests();
    assert!((200..=230).contains(&seen), "upstream saw {seen}");
}

#[tokio::test]
async fn a_dead_upstream_sees_attempts_bounded_by_the_budget() {
    let upstream = Upstream::start(|_| async { status(StatusCode::SERVICE_UNAVAILABLE) }).await;
    let mut settings = settings(&[&upstream.url]);
    settings.retry.budget_ratio = 0.2;
    settings.retry.budget_min_per_sec = 0;
    settings.ejection.consecutive_failures = 0;
    let client = HttpClient::new("dead", &settings).unwrap();
    for _ in 0..100 {
        let response = client.get("/cars").send().await.unwrap();
        assert_eq!(response.status(), 503, "the last answer comes back");
    }
    let seen = upstream.requests();
    // 100 requests plus about 20% retries (deposits are batched by 16).
    assert!(
        (100..=140).contains(&seen),
        "3 attempts each would be 300; saw {seen}"
    );
}

#[tokio::test]
async fn an_upstream_that_refuses_connections_sees_attempts_bounded_by_the_budget() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let mut settings = settings(&[&url]);
    settings.retry.budget_ratio = 0.2;
    settings.retry.budget_min_per_sec = 0;
    settings.ejection.consecutive_failures = 0;
    let client = HttpClient::new("refused", &settings).unwrap();
    let mut attempts = 0;
    for _ in 0..100 {
        match client.get("/cars").send().await.unwrap_err() {
            HttpClientError::Connect { attempts: n, .. } => attempts += n,
            other => panic!("expected a connect error: {other:?}"),
        }
    }
    // 100 requests plus about 20% retries (deposits are batched by 16).
    assert!(
        (100..=140).contains(&attempts),
        "3 attempts each would be 300; made {attempts}"
    );
}

#[tokio::test]
async fn connection_refused_fails_fast_with_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = HttpClient::new("gone", &settings(&[&url])).unwrap();
    let started = Instant::now();
    let error = client.post("/bookings").send().await.unwrap_err();
    assert!(
        matches!(error, HttpClientError::Connect { attempts: 3, .. }),
        "nothing was sent, so even a POST is retried: {error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(error.is_upstream_failure());
    assert!(
        error.to_string().ends_with("is the upstream up?"),
        "not a TLS failure: {error}"
    );
}

#[tokio::test]
async fn retry_after_is_honoured_within_the_deadline() {
    let upstream = Upstream::start(|n| async move {
        if n == 0 {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "1")],
                "busy",
            )
                .into_response()
        } else {
            "ok".into_response()
        }
    })
    .await;
    let client = HttpClient::new("polite", &settings(&[&upstream.url])).unwrap();
    let started = Instant::now();
    let response = client.get("/cars").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );

    // A Retry-After past the deadline: the 503 comes back at once.
    let upstream = Upstream::start(|_| async {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "3")],
            "busy",
        )
            .into_response()
    })
    .await;
    let mut short = settings(&[&upstream.url]);
    short.timeout = Duration::from_secs(2);
    let client = HttpClient::new("polite", &short).unwrap();
    let started = Instant::now();
    let response = client.get("/cars").send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(upstream.requests(), 1);
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn a_hanging_upstream_is_cut_at_the_deadline() {
    let upstream = Upstream::start(|_| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        "late".into_response()
    })
    .await;
    let mut settings = settings(&[&upstream.url]);
    settings.timeout = Duration::from_millis(300);
    let client = HttpClient::new("slow", &settings).unwrap();
    let started = Instant::now();
    let error = client.get("/cars").send().await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(error, HttpClientError::Timeout { .. }),
        "{error:?}"
    );
    assert!(took >= Duration::from_millis(290), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn post_is_not_retried_unless_marked_idempotent() {
    let upstream = Upstream::start(|_| async { status(StatusCode::SERVICE_UNAVAILABLE) }).await;
    let client = HttpClient::new("bookings", &settings(&[&upstream.url])).unwrap();
    let response = client.post("/bookings").body("{}").send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(upstream.requests(), 1, "a POST may have had effects");

    let response = client
        .post("/bookings")
        .header("idempotency-key", "b-1")
        .idempotent(true)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(upstream.requests(), 4, "1 + max_attempts (3)");
}

#[tokio::test]
async fn a_failing_base_url_is_ejected() {
    let bad = Upstream::start(|_| async { status(StatusCode::INTERNAL_SERVER_ERROR) }).await;
    let good = Upstream::start(|_| async { "ok".into_response() }).await;
    let mut settings = settings(&[&bad.url, &good.url]);
    settings.ejection.consecutive_failures = 2;
    settings.retry.max_attempts = 1;
    let client = HttpClient::new("pair", &settings).unwrap();
    for _ in 0..50 {
        let _ = client.get("/cars").send().await.unwrap();
    }
    assert!(bad.requests() <= 3, "bad saw {}", bad.requests());
    assert!(good.requests() >= 47);
}

#[tokio::test]
async fn requests_share_pooled_connections_and_spread_over_base_urls() {
    use axum::serve::ListenerExt as _;
    // Two upstreams that count the connections they accept.
    let mut upstreams = Vec::new();
    for _ in 0..2 {
        let accepted = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let (a, s) = (Arc::clone(&accepted), Arc::clone(&served));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let listener = listener.tap_io(move |_| {
            a.fetch_add(1, Ordering::SeqCst);
        });
        let app = Router::new().fallback(any(move || {
            s.fetch_add(1, Ordering::SeqCst);
            async { "ok" }
        }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        upstreams.push((url, accepted, served));
    }
    let urls: Vec<&str> = upstreams.iter().map(|(url, ..)| url.as_str()).collect();
    let client = HttpClient::new("pooled", &settings(&urls)).unwrap();
    for _ in 0..200 {
        assert_eq!(client.get("/cars").send().await.unwrap().status(), 200);
    }
    for (url, accepted, served) in &upstreams {
        let (accepted, served) = (
            accepted.load(Ordering::SeqCst),
            served.load(Ordering::SeqCst),
        );
        // One at a time: each base URL's one pooled connection carries all its requests.
        assert_eq!(
            accepted, 1,
            "{url}: {accepted} connections for {served} requests"
        );
        // Balanced by power of two choices over equal loads: about half each.
        assert!(served >= 40, "{url} got {served} of 200 requests");
    }
}

#[tokio::test]
async fn response_bodies_are_bounded() {
    let upstream = Upstream::start(|_| async { "x".repeat(10_000).into_response() }).await;
    let mut settings = settings(&[&upstream.url]);
    settings.max_response_body = boost_config::ByteSize::b(1024);
    let client = HttpClient::new("big", &settings).unwrap();
    let error = client.get("/cars").send().await.unwrap_err();
    assert!(
        matches!(error, HttpClientError::BodyTooLarge { limit: 1024, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn secrets_stay_out_of_debug_and_errors() {
    let upstream = Upstream::start(|_| async { status(StatusCode::UNAUTHORIZED) }).await;
    let client = HttpClient::new("partner", &settings(&[&upstream.url])).unwrap();
    let token = boost_config::Secret::new("tok-hunter2".to_owned());
    let request = client
        .get("/cars?api_key=hunter2")
        .bearer_auth(&token)
        .header("x-api-key", "hunter2");
    let shown = format!("{request:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    let response = request.send().await.unwrap();
    let error = response.error_for_status().unwrap_err().to_string();
    assert!(!error.contains("hunter2"), "{error}");
    assert_eq!(
        upstream.last_headers.lock().unwrap()["authorization"],
        "Bearer tok-hunter2"
    );
}

type Recorded = Vec<(
    metrics_util::CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    metrics_util::debugging::DebugValue,
)>;

/// Runs `body` on a current-thread runtime with a local debugging recorder,
/// and returns what it recorded.
fn recording<F, Fut>(body: F) -> Recorded
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(body());
    });
    snapshotter.snapshot().into_vec()
}

/// The names and labels of the metrics `body` recorded.
fn with_recorded_metrics<F, Fut>(body: F) -> Vec<(String, Vec<(String, String)>)>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    recording(body)
        .into_iter()
        .map(|(key, _, _, _)| {
            let key = key.key();
            let labels = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            (key.name().to_owned(), labels)
        })
        .collect()
}

/// How many durations each `http_client_request_duration_seconds` series
/// recorded, by its (`server_port`, `http_response_status_code`) labels.
fn durations_by_port_and_status<F, Fut>(body: F) -> Vec<((String, String), usize)>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use metrics_util::debugging::DebugValue;
    let mut series: Vec<_> = recording(body)
        .into_iter()
        .filter(|(key, ..)| key.key().name() == "http_client_request_duration_seconds")
        .map(|(key, _, _, value)| {
            let label = |k: &str| {
                key.key()
                    .labels()
                    .find(|l| l.key() == k)
                    .map(|l| l.value().to_owned())
                    .unwrap_or_default()
            };
            let count = match value {
                DebugValue::Histogram(values) => values.len(),
                other => panic!("not a histogram: {other:?}"),
            };
            (
                (label("server_port"), label("http_response_status_code")),
                count,
            )
        })
        .collect();
    series.sort();
    series
}

#[test]
fn durations_are_recorded_under_the_base_url_and_status_that_answered() {
    // Two base URLs, each answering 200 and 404 in turn (a 404 is not
    // retried): every answer must land in its own (port, status) series.
    let answers = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&answers);
    let series = durations_by_port_and_status(|| async move {
        let a = Upstream::start(|n| async move { odd_is_404(n) }).await;
        let b = Upstream::start(|n| async move { odd_is_404(n) }).await;
        let client = HttpClient::new("two", &settings(&[&a.url, &b.url])).unwrap();
        for _ in 0..40 {
            let _ = client.get("/cars").send().await.unwrap();
        }
        for upstream in [&a, &b] {
            let port = upstream.url.rsplit(':').next().unwrap().to_owned();
            let n = upstream.requests();
            let mut seen = seen.lock().unwrap();
            seen.push(((port.clone(), "200".to_owned()), n.div_ceil(2)));
            seen.push(((port, "404".to_owned()), n / 2));
        }
    });
    let mut expected: Vec<_> = answers.lock().unwrap().clone();
    expected.retain(|(_, count)| *count > 0);
    expected.sort();
    assert_eq!(
        series, expected,
        "recorded series vs the answers each upstream gave"
    );
    assert_eq!(series.iter().map(|(_, n)| n).sum::<usize>(), 40);
}

fn odd_is_404(n: usize) -> axum::response::Response {
    if n % 2 == 1 {
        status(StatusCode::NOT_FOUND)
    } else {
        "ok".into_response()
    }
}

#[test]
fn running_out_of_the_callers_deadline_does_not_eject_a_healthy_upstream() {
    let recorded = with_recorded_metrics(|| async {
        // Answers after 300 ms, well inside the client's own 10 s.
        let upstream = Upstream::start(|_| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "ok".into_response()
        })
        .await;
        let mut settings = settings(&[&upstream.url]);
        settings.ejection.consecutive_failures = 2;
        let client = HttpClient::new("slowish", &settings).unwrap();
        // Callers with only 20 ms left: their calls time out; the upstream is fine.
        for _ in 0..5 {
            let caller = Instant::now() + Duration::from_millis(20);
            let error = boost_rpc::deadline::scope(caller, client.get("/cars").send())
                .await
                .unwrap_err();
            assert!(
                matches!(error, HttpClientError::Timeout { .. }),
                "{error:?}"
            );
        }
        let response = client.get("/cars").send().await.unwrap();
        assert_eq!(response.status(), 200);
    });
    assert!(
        !recorded
            .iter()
            .any(|(name, _)| name == "http_client_ejections_total"),
        "a caller's short deadline ejected a healthy base URL: {recorded:?}"
    );
    // The calls are measured per client, with semconv labels.
    let call = recorded
        .iter()
        .find(|(name, _)| name == "http_client_request_duration_seconds")
        .expect("http_client_request_duration_seconds recorded");
    let label = |k: &str| {
        call.1
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(label("client"), Some("slowish"), "{call:?}");
    assert_eq!(label("http_request_method"), Some("GET"), "{call:?}");
    // The base URL it went to (`http://127.0.0.1:<port>`), as semconv names it.
    assert_eq!(label("server_address"), Some("127.0.0.1"), "{call:?}");
    let port: u16 = label("server_port").unwrap().parse().unwrap();
    assert!(port > 1024, "the upstream's ephemeral port: {call:?}");
}

#[test]
fn consecutive_timeouts_of_the_clients_own_budget_do_eject() {
    let recorded = with_recorded_metrics(|| async {
        let hanging = Upstream::start(|_| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "late".into_response()
        })
        .await;
        let good = Upstream::start(|_| async { "ok".into_response() }).await;
        let mut settings = settings(&[&hanging.url, &good.url]);
        settings.timeout = Duration::from_millis(100);
        settings.retry.max_attempts = 1;
        settings.ejection.consecutive_failures = 2;
        let client = HttpClient::new("hangs", &settings).unwrap();
        for _ in 0..20 {
            let _ = client.get("/cars").send().await;
        }
    });
    assert!(
        recorded
            .iter()
            .any(|(name, _)| name == "http_client_ejections_total"),
        "{recorded:?}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_the_json_expected_is_not_quoted_in_the_error() {
    let upstream = Upstream::start(|_| async {
        (
            [("content-type", "application/json")],
            r#"{"token":"sk_live_hunter2"}"#,
        )
            .into_response()
    })
    .await;
    let client = HttpClient::new("partner", &settings(&[&upstream.url])).unwrap();
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Expected {
        token: u64,
    }
    let response = client.get("/token").send().await.unwrap();
    let error = response.json::<Expected>().unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("data error at line 1"), "{shown}");
}

fn sent_deadline_ms(upstream: &Upstream) -> Option<u64> {
    upstream
        .last_headers
        .lock()
        .unwrap()
        .get("x-request-timeout-ms")
        .map(|value| value.to_str().unwrap().parse().unwrap())
}

#[tokio::test]
async fn the_time_left_is_sent_in_the_configured_deadline_header() {
    let upstream = Upstream::start(|_| async { "ok".into_response() }).await;

    // Unset: nothing is sent.
    let client = HttpClient::new("quiet", &settings(&[&upstream.url])).unwrap();
    client.get("/cars").send().await.unwrap();
    assert_eq!(sent_deadline_ms(&upstream), None);

    let mut with_header = settings(&[&upstream.url]);
    with_header.deadline_header = Some("x-request-timeout-ms".into());
    let client = HttpClient::new("cars", &with_header).unwrap();

    // The client's own 10 s timeout: a little under 10 000 ms, never over.
    client.get("/cars").send().await.unwrap();
    let own = sent_deadline_ms(&upstream).unwrap();
    assert!((5_000..=10_000).contains(&own), "{own}");

    // Serving a request with 3 s left: the upstream is told at most that.
    let caller = Instant::now() + Duration::from_secs(3);
    boost_rpc::deadline::scope(caller, client.get("/cars").send())
        .await
        .unwrap();
    let inherited = sent_deadline_ms(&upstream).unwrap();
    assert!((1..=3_000).contains(&inherited), "{inherited}");
}

#[test]
fn a_deadline_header_that_is_not_a_header_name_is_refused_under_its_key() {
    let mut bad = HttpClientSettings::with_base_urls(["http://127.0.0.1:1"]);
    bad.deadline_header = Some("X Timeout".into());
    let error = HttpClient::new("cars", &bad).unwrap_err().to_string();
    assert!(error.contains("deadline_header"), "{error}");
    assert!(error.contains("lower-case HTTP header name"), "{error}");
}
