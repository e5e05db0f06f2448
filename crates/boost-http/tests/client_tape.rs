//! Record and replay of `HttpClient` requests (`[<client>.tape]`): recorded
//! against an in-test axum partner, replayed with it stopped and no
//! connection attempted; secrets never reach the tape; re-recording writes
//! the same bytes; misses name the closest entry and the differing field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use boost_config::Secret;
use boost_http::client::{HttpClient, HttpClientError, HttpClientSettings, HttpTapeSettings};
use boost_rpc::client::TapeMode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The partner's sandbox: quotes, orders, a counter, a 404 and a binary logo.
struct Partner {
    url: String,
    accepted: Arc<AtomicUsize>,
    _stop: oneshot::Sender<()>,
}

async fn quote(Query(q): Query<BTreeMap<String, String>>, headers: HeaderMap) -> impl IntoResponse {
    let city = q.get("city").cloned().unwrap_or_default();
    let key = headers
        .get("x-partner-key")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        [
            (header::SET_COOKIE, "session=sess-s3cr3t"),
            (header::HeaderName::from_static("x-partner-region"), "eu"),
        ],
        axum::Json(json!({
            "city": city,
            "price_cents": 4200,
            "session_token": "srv-s3cr3t",
            "key_seen": !key.is_empty(),
        })),
    )
}

async fn order(axum::Json(body): axum::Json<Value>) -> impl IntoResponse {
    (
        StatusCode::CREATED,
        axum::Json(json!({"item": body["item"], "status": "created"})),
    )
}

async fn counter(State(n): State<Arc<AtomicUsize>>) -> String {
    format!("call {}", n.fetch_add(1, Ordering::SeqCst) + 1)
}

async fn start_partner() -> Partner {
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = accepted.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let listener = listener.tap_io(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
    });
    let app = Router::new()
        .route("/v1/quotes", get(quote))
        .route("/v1/orders", post(order))
        .route("/v1/counter", get(counter))
        .route(
            "/v1/missing",
            get(|| async { (StatusCode::NOT_FOUND, "no such thing") }),
        )
        .route(
            "/v1/logo",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    vec![0x89u8, 0x50, 0xff, 0x00],
                )
            }),
        )
        .with_state(Arc::new(AtomicUsize::new(0)));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Partner {
        url,
        accepted,
        _stop: stop,
    }
}

/// A listener that only counts connection attempts (it never answers).
async fn counting_port() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (url, accepted)
}

fn tape_settings(mode: TapeMode, tape: &Path) -> HttpTapeSettings {
    let mut settings = HttpTapeSettings::new(mode, tape);
    settings.secret_headers = vec!["X-Partner-Key".to_owned()];
    settings.redacted_fields = vec!["session_token".to_owned(), "api_key".to_owned()];
    settings.ignored_fields.insert(
        "POST /v1/orders".to_owned(),
        vec!["body.request_id".to_owned()],
    );
    settings
}

fn client(url: &str, tape: HttpTapeSettings) -> HttpClient {
    let mut settings = HttpClientSettings::with_base_urls([url]);
    settings.tape = tape;
    settings.retry.max_attempts = 1;
    HttpClient::new("cars", &settings).unwrap()
}

/// What a test sees of each request: status, content type, body.
async fn scenario(client: &HttpClient, request_id: &str) -> Vec<(u16, String, Value)> {
    let token = Secret::new("bearer-s3cr3t".to_owned());
    let mut seen = Vec::new();
    let mut push = |r: boost_http::client::HttpResponse| {
        let kind = r
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = if kind.contains("json") {
            r.json::<Value>().unwrap()
        } else if kind.starts_with("image/") {
            json!(r.body().to_vec())
        } else {
            json!(r.text())
        };
        seen.push((r.status().as_u16(), kind, body));
    };
    push(
        client
            .get("/v1/quotes?city=LIS&api_key=query-s3cr3t")
            .bearer_auth(&token)
            .header("cookie", "jar=cookie-s3cr3t")
            .header("x-partner-key", "partner-s3cr3t")
            .send()
            .await
            .unwrap(),
    );
    push(
        client
            .post("/v1/orders")
            .json(&json!({"item": "car-7", "request_id": request_id}))
            .send()
            .await
            .unwrap(),
    );
    push(client.get("/v1/counter").send().await.unwrap());
    push(client.get("/v1/counter").send().await.unwrap());
    push(client.get("/v1/missing").send().await.unwrap());
    push(client.get("/v1/logo").send().await.unwrap());
    seen
}

#[tokio::test]
async fn a_recorded_session_replays_with_the_upstream_stopped_and_no_connection_attempted() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("cars.json");
    let partner = start_partner().await;
    let recorder = client(&partner.url, tape_settings(TapeMode::Record, &tape));
    let live = scenario(&recorder, "r-1").await;
    assert!(partner.accepted.load(Ordering::SeqCst) >= 1);
    drop(recorder);
    drop(partner);

    assert_eq!(live[0].2["city"], "LIS");
    assert_eq!(live[1].0, 201);
    assert_eq!(live[2].2, "call 1");
    assert_eq!(live[3].2, "call 2");
    assert_eq!(
        live[4],
        (
            404,
            "text/plain; charset=utf-8".to_owned(),
            json!("no such thing")
        )
    );

    let (url, attempts) = counting_port().await;
    let replayer = client(&url, tape_settings(TapeMode::Replay, &tape));
    // Another request id: ignored for POST /v1/orders.
    let replayed = scenario(&replayer, "r-2").await;
    // The recorded answers, masked where they held secrets.
    let mut expected = live.clone();
    expected[0].2["session_token"] = json!("<redacted>");
    assert_eq!(replayed, expected);
    // Identical requests replayed in recorded order, then the last again.
    let again = replayer.get("/v1/counter").send().await.unwrap();
    assert_eq!(again.text(), "call 2");
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        0,
        "replay opened a connection"
    );
}

#[tokio::test]
async fn re_recording_the_same_scenario_writes_a_byte_identical_tape_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for round in 0..2 {
        let tape = dir.path().join(format!("round{round}.json"));
        let partner = start_partner().await;
        let recorder = client(&partner.url, tape_settings(TapeMode::Record, &tape));
        scenario(&recorder, "r-1").await;
        files.push(std::fs::read_to_string(&tape).unwrap());
        let timing = std::fs::read_to_string(boost_tape::Timing::path_of(&tape)).unwrap();
        assert!(timing.contains("\"elapsed\""), "{timing}");
    }
    assert_eq!(files[0], files[1], "re-recording changed the tape");
    let text = &files[0];
    assert!(
        !text.contains("s3cr3t"),
        "a secret reached the tape:\n{text}"
    );
    for masked in [
        "\"authorization\": \"<redacted>\"",
        "\"cookie\": \"<redacted>\"",
        "\"set-cookie\": \"<redacted>\"",
        "\"x-partner-key\": \"<redacted>\"",
        "\"session_token\": \"<redacted>\"",
        "api_key=<redacted>",
    ] {
        assert!(text.contains(masked), "{masked} missing in\n{text}");
    }
    // Readable: JSON bodies as JSON, text as a string, binary as base64.
    assert!(text.contains("\"format\": \"boost-tape-http/1\""), "{text}");
    assert!(text.contains("\"price_cents\": 4200"), "{text}");
    assert!(text.contains("\"text\": \"no such thing\""), "{text}");
    assert!(text.contains("\"base64\": \"iVD/AA==\""), "{text}");
    assert!(
        !text.contains("traceparent") && !text.contains("\"date\""),
        "{text}"
    );
}

#[tokio::test]
async fn an_unmatched_request_fails_naming_the_closest_entry_and_the_differing_field() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("cars.json");
    let partner = start_partner().await;
    scenario(
        &client(&partner.url, tape_settings(TapeMode::Record, &tape)),
        "r-1",
    )
    .await;
    drop(partner);

    let replayer = client("http://127.0.0.1:9", tape_settings(TapeMode::Replay, &tape));
    let error = replayer
        .get("/v1/quotes?city=OPO")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, HttpClientError::Tape { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("no recorded call of GET /v1/quotes"),
        "{message}"
    );
    assert!(message.contains("closest is entries[4]"), "{message}");
    assert!(
        message.contains("query.city: recorded \"LIS\", got \"OPO\""),
        "{message}"
    );
    assert!(message.contains("tape.ignored_fields"), "{message}");

    let other = replayer
        .post("/v1/orders")
        .json(&json!({"item": "car-9", "request_id": "r-3"}))
        .send()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        other.contains("body.item: recorded \"car-7\", got \"car-9\""),
        "{other}"
    );
}

#[tokio::test]
async fn post_bodies_match_with_ignored_fields_and_replay_or_record_fills_the_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("orders.json");
    let partner = start_partner().await;
    let both = client(&partner.url, tape_settings(TapeMode::ReplayOrRecord, &tape));
    let order = |item: &'static str, id: &'static str| {
        both.post("/v1/orders")
            .json(&json!({"item": item, "request_id": id}))
            .send()
    };
    assert_eq!(order("car-1", "a").await.unwrap().status(), 201);
    let seen = partner.accepted.load(Ordering::SeqCst);
    // The same order with another request id is answered from the tape.
    let replayed = order("car-1", "b").await.unwrap();
    assert_eq!(replayed.json::<Value>().unwrap()["item"], "car-1");
    // A new order goes to the partner and is added.
    assert_eq!(order("car-2", "c").await.unwrap().status(), 201);
    drop(partner);
    assert!(seen >= 1);
    let text = std::fs::read_to_string(&tape).unwrap();
    assert_eq!(text.matches("\"method\": \"POST\"").count(), 2, "{text}");
}

#[tokio::test]
async fn faults_written_into_a_tape_are_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("down.json");
    std::fs::write(
        &tape,
        r#"{"format": "boost-tape-http/1", "entries": [
            {"method": "GET", "url": "/v1/quotes?city=LIS",
             "request": {}, "response": {"status": 200},
             "fault": {"status": 503}},
            {"method": "GET", "url": "/v1/slow",
             "request": {}, "response": {"status": 200},
             "fault": {"delay": "10s"}}
        ]}"#,
    )
    .unwrap();
    let replayer = client("http://127.0.0.1:9", tape_settings(TapeMode::Replay, &tape));
    let down = replayer.get("/v1/quotes?city=LIS").send().await.unwrap();
    assert_eq!(down.status(), 503);
    let slow = replayer
        .get("/v1/slow")
        .timeout(std::time::Duration::from_millis(50))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(slow, HttpClientError::Timeout { .. }), "{slow:?}");

    std::fs::write(&tape, r#"{"format": "boost-tape-http/1", "entries": [{"method": "GET", "url": "/", "request": {}, "response": {"status": 1000}}]}"#).unwrap();
    let mut settings = HttpClientSettings::with_base_urls(["http://127.0.0.1:9"]);
    settings.tape = HttpTapeSettings::new(TapeMode::Replay, &tape);
    let error = HttpClient::new("cars", &settings).unwrap_err().to_string();
    assert!(error.contains("entries[0]: status 1000"), "{error}");
    settings.tape = HttpTapeSettings::new(TapeMode::Replay, dir.path().join("none.json"));
    let error = HttpClient::new("cars", &settings).unwrap_err().to_string();
    assert!(
        error.contains("none.json") && error.contains("cars.tape.mode = \"record\""),
        "{error}"
    );
}

#[tokio::test]
async fn recorded_latency_is_replayed_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("slow.json");
    std::fs::write(
        &tape,
        r#"{"format": "boost-tape-http/1", "entries": [
            {"method": "GET", "url": "/v1/quotes", "request": {},
             "response": {"status": 200, "body": {"text": "ok"}}}
        ]}"#,
    )
    .unwrap();
    std::fs::write(
        boost_tape::Timing::path_of(&tape),
        r#"{"entries": [{"method": "GET /v1/quotes", "elapsed": "1s 500ms"}]}"#,
    )
    .unwrap();
    for wait in [false, true] {
        let mut tape_settings = HttpTapeSettings::new(TapeMode::Replay, &tape);
        tape_settings.replay_latency = wait;
        let mut settings = HttpClientSettings::with_base_urls(["http://127.0.0.1:9"]);
        settings.timeout = std::time::Duration::from_secs(20);
        settings.tape = tape_settings;
        let replayer = HttpClient::new("cars", &settings).unwrap();
        let started = std::time::Instant::now();
        let answer = replayer.get("/v1/quotes").send().await.unwrap();
        let took = started.elapsed();
        assert_eq!(answer.text(), "ok");
        if wait {
            assert!(took >= std::time::Duration::from_millis(1500), "{took:?}");
        } else {
            assert!(took < std::time::Duration::from_millis(1500), "{took:?}");
        }
    }
}

/// The label sets of `http_client_request_duration_seconds` recorded while
/// `body` runs (on a current-thread runtime with a local recorder).
fn request_labels<F, Fut>(body: F) -> std::collections::BTreeSet<Vec<(String, String)>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use metrics_util::debugging::DebuggingRecorder;
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(body());
    });
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, _, _, _)| key.key().name() == "http_client_request_duration_seconds")
        .map(|(key, _, _, _)| {
            let mut labels: Vec<(String, String)> = key
                .key()
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            labels
        })
        .collect()
}

#[test]
fn a_replayed_request_has_the_live_requests_metric_labels() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("cars.json");
    let url = std::sync::Mutex::new(String::new());
    let live = request_labels(|| async {
        let partner = start_partner().await;
        *url.lock().unwrap() = partner.url.clone();
        scenario(
            &client(&partner.url, tape_settings(TapeMode::Record, &tape)),
            "r-1",
        )
        .await;
    });
    // The same base URL, the partner gone: nothing listens there now.
    let url = url.into_inner().unwrap();
    let replayed = request_labels(|| async {
        scenario(&client(&url, tape_settings(TapeMode::Replay, &tape)), "r-1").await;
    });
    assert_eq!(live.len(), 3, "GET 200, GET 404, POST 201: {live:?}");
    assert_eq!(replayed, live);
}
