//! Retries and the retry budget (issue 6: a, b, g, h).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use boost_rpc::client::{CallOptions, ClientSettings};
use boost_test_proto::GetProfileRequest;
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::profiles_client::ProfilesClient;
use client_support::{Fault, Upstream, hello, metrics};
use metrics_util::debugging::DebugValue;

/// The counters of client `client` by name, summed over their series (a
/// snapshot drains the debugging recorder's counters: take one).
fn counters(client: &str) -> std::collections::HashMap<String, u64> {
    let mut sums = std::collections::HashMap::new();
    for (key, _, _, value) in metrics().snapshot().into_vec() {
        let key = key.key();
        if let DebugValue::Counter(n) = value
            && key
                .labels()
                .any(|l| l.key() == "client" && l.value() == client)
        {
            *sums.entry(key.name().to_owned()).or_default() += n;
        }
    }
    sums
}

fn settings(upstream: &Upstream) -> ClientSettings {
    let mut s = ClientSettings::with_endpoints([upstream.url()]);
    s.retry.idempotent_methods = vec!["hello.v1.Greeter/SayHello".into()];
    s.timeout = Duration::from_secs(2);
    s
}

/// Runs `calls` SayHello calls, `concurrency` at a time; returns how many succeeded.
async fn run_calls(client: boost_rpc::client::Client, calls: usize, concurrency: usize) -> usize {
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let mut greeter = GreeterClient::new(client.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for _ in (worker..calls).step_by(concurrency) {
                if greeter.say_hello(hello(8)).await.is_ok() {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap();
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_unavailable_is_masked_within_the_budget() {
    let upstream = Upstream::start(Fault::UnavailableEvery(10)).await;
    let client = boost_rpc::client("greeter", &settings(&upstream)).unwrap();
    let calls = 500;
    let ok = run_calls(client, calls, 8).await;
    let attempts = upstream.state.attempts();
    // A call fails only when all three of its attempts land on a failing one:
    // about 50 × 0.1 × 0.1 = 0.5 calls in 500 on average, so a run sees 0–3
    // (three in about 1.4% of runs). Unmasked, 50 would fail.
    assert!(ok as f64 >= 0.99 * calls as f64, "{ok}/{calls} succeeded");
    assert!(
        attempts as f64 <= 1.2 * calls as f64,
        "{attempts} attempts for {calls} calls"
    );
    assert!(attempts > calls, "failed attempts were retried");
    let retried = upstream
        .state
        .seen()
        .iter()
        .filter(|s| s.previous_attempts == Some(1))
        .count();
    assert!(retried > 0, "retries carry grpc-previous-rpc-attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_upstream_gets_no_retry_storm() {
    let upstream = Upstream::start(Fault::Unavailable).await;
    let _ = metrics();
    let mut settings = settings(&upstream);
    // The budget alone is measured here (throttling would send even less).
    settings.throttle.enabled = false;
    let client = boost_rpc::client("dead-upstream", &settings).unwrap();
    let calls = 200;
    let started = Instant::now();
    let ok = run_calls(client, calls, 16).await;
    let elapsed = started.elapsed().as_secs_f64();
    let attempts = upstream.state.attempts() as f64;
    assert_eq!(ok, 0);
    // 20% of calls + the budget's reserve of 10/s over its 10 s window + 1.
    let bound = 1.2 * calls as f64 + 10.0 * elapsed.max(10.0) + 1.0;
    assert!(
        attempts <= bound,
        "{attempts} attempts for {calls} calls (bound {bound})"
    );
    assert!(
        attempts < 3.0 * calls as f64 * 0.6,
        "far below max_attempts × calls"
    );
    // Every retry the budget refused is counted, and every retry made too.
    let counted = counters("dead-upstream");
    let refused = counted["rpc_client_retry_budget_exhausted_total"];
    let retried = counted["rpc_client_retries_total"];
    assert!(refused > 0, "the budget refused retries");
    assert_eq!(
        retried,
        attempts as u64 - calls as u64,
        "retries = attempts − calls"
    );
}

#[tokio::test]
async fn a_method_not_marked_idempotent_is_not_retried() {
    let upstream = Upstream::start(Fault::Unavailable).await;
    let client = boost_rpc::client("profiles", &settings(&upstream)).unwrap();
    let mut profiles = ProfilesClient::new(client);
    let status = profiles
        .get_profile(GetProfileRequest { name: "ada".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert_eq!(upstream.state.attempts(), 1, "GetProfile is not idempotent");

    // The same call marked idempotent in code gets the default 3 attempts.
    let mut request = tonic::Request::new(GetProfileRequest { name: "ada".into() });
    request
        .extensions_mut()
        .insert(CallOptions::new().idempotent(true));
    profiles.get_profile(request).await.unwrap_err();
    assert_eq!(upstream.state.attempts(), 1 + 3);
}

#[tokio::test]
async fn a_request_over_64_kib_is_not_retried() {
    let upstream = Upstream::start(Fault::Unavailable).await;
    let client = boost_rpc::client("greeter", &settings(&upstream)).unwrap();
    let mut greeter = GreeterClient::new(client);
    greeter.say_hello(hello(70 * 1024)).await.unwrap_err();
    assert_eq!(
        upstream.state.attempts(),
        1,
        "70 KiB body is not buffered for replay"
    );

    greeter.say_hello(hello(1024)).await.unwrap_err();
    assert_eq!(upstream.state.attempts(), 1 + 3, "a small body is retried");
}

#[tokio::test]
async fn a_retry_succeeds_and_the_caller_never_sees_the_failure() {
    let upstream = Upstream::start(Fault::UnavailableEvery(2)).await;
    let client = boost_rpc::client("greeter", &settings(&upstream)).unwrap();
    let mut greeter = GreeterClient::new(client);
    let reply = greeter.say_hello(hello(3)).await.unwrap();
    assert!(reply.get_ref().message.starts_with("hello 3"));
    let seen = upstream.state.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].previous_attempts, None);
    assert_eq!(seen[1].previous_attempts, Some(1));
    assert_eq!(
        seen[0].request_id, seen[1].request_id,
        "one request id per logical call"
    );
}

#[tokio::test]
async fn server_pushback_sets_the_backoff_and_a_negative_one_stops_retries() {
    let upstream = Upstream::start(Fault::PushbackOnce("150")).await;
    let client = boost_rpc::client("greeter", &settings(&upstream)).unwrap();
    GreeterClient::new(client)
        .say_hello(hello(1))
        .await
        .unwrap();
    let seen = upstream.state.seen();
    assert_eq!(seen.len(), 2);
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_millis(150),
        "retried after {waited:?}, not the pushback"
    );

    let upstream = Upstream::start(Fault::PushbackOnce("-1")).await;
    let client = boost_rpc::client("greeter", &settings(&upstream)).unwrap();
    let status = GreeterClient::new(client)
        .say_hello(hello(1))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert_eq!(upstream.state.attempts(), 1, "negative pushback: no retry");
}

#[tokio::test]
async fn retries_happen_within_the_calls_total_timeout() {
    // Each attempt takes 300 ms and fails retryably: unbounded, five attempts
    // would take 1.5 s and more; the 700 ms total timeout ends the call.
    let upstream = Upstream::start(Fault::SlowUnavailable(Duration::from_millis(300))).await;
    let mut settings = settings(&upstream);
    settings.timeout = Duration::from_millis(700);
    settings.retry.max_attempts = 5;
    let client = boost_rpc::client("greeter", &settings).unwrap();
    let started = Instant::now();
    let status = GreeterClient::new(client)
        .say_hello(hello(1))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(
            status.code(),
            tonic::Code::DeadlineExceeded | tonic::Code::Unavailable
        ),
        "{status:?}"
    );
    let attempts = upstream.state.attempts();
    assert!(attempts >= 2, "the call was retried: {attempts} attempts");
    assert!(
        attempts <= 3,
        "no attempt started after the deadline: {attempts}"
    );
    assert!(
        took < Duration::from_millis(1300),
        "took {took:?}: the 700 ms total, not five 300 ms attempts"
    );
    for seen in upstream.state.seen() {
        let sent = seen
            .grpc_timeout
            .expect("every attempt carries grpc-timeout");
        assert!(sent <= Duration::from_millis(700), "{sent:?}");
    }
}

/// A Greeter that sends response headers at once, then `UNAVAILABLE` in the
/// trailers: the call reached the handler and may have had effects.
#[derive(Clone)]
struct FailsAfterHeaders(Arc<AtomicUsize>);

impl tonic::server::NamedService for FailsAfterHeaders {
    const NAME: &'static str = "hello.v1.Greeter";
}

impl tower::Service<http::Request<tonic::body::Body>> for FailsAfterHeaders {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<tonic::body::Body>) -> Self::Future {
        self.0.fetch_add(1, Ordering::SeqCst);
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("14"));
        let body = http_body_util::StreamBody::new(tokio_stream::iter([Ok::<_, tonic::Status>(
            http_body::Frame::<tonic::codegen::Bytes>::trailers(trailers),
        )]));
        let response = http::Response::builder()
            .header("content-type", "application/grpc")
            .body(tonic::body::Body::new(body))
            .unwrap();
        std::future::ready(Ok(response))
    }
}

#[tokio::test]
async fn unavailable_after_the_response_headers_is_not_retried() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(FailsAfterHeaders(attempts.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let mut settings = ClientSettings::with_endpoints([format!("http://{addr}")]);
    settings.retry.idempotent_methods = vec!["hello.v1.Greeter/SayHello".into()];
    settings.timeout = Duration::from_secs(2);
    let client = boost_rpc::client("greeter", &settings).unwrap();
    let status = GreeterClient::new(client)
        .say_hello(hello(1))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        1,
        "once the headers arrived, the call is the caller's to retry"
    );
}

#[tokio::test]
async fn resource_exhausted_with_pushback_is_retried_after_the_pushback_by_default() {
    let upstream = Upstream::start(Fault::ExhaustedPushbackOnce("150")).await;
    let client = boost_rpc::client("greeter", &settings(&upstream)).unwrap();
    GreeterClient::new(client)
        .say_hello(hello(1))
        .await
        .unwrap();
    let seen = upstream.state.seen();
    assert_eq!(seen.len(), 2, "shed once, then served");
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_millis(150),
        "retried after {waited:?}, before the server's pushback"
    );
}

#[tokio::test]
async fn resource_exhausted_is_not_retried_without_pushback_off_or_for_a_non_idempotent_method() {
    // No pushback: a quota or an overload that gave no hint.
    let upstream = Upstream::start(Fault::AcceptEvery(2)).await;
    let client = boost_rpc::client("greeter", &settings(&upstream)).unwrap();
    let mut greeter = GreeterClient::new(client);
    greeter.say_hello(hello(1)).await.unwrap();
    let status = greeter.say_hello(hello(1)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    assert_eq!(upstream.state.attempts(), 2, "no retry without pushback");

    // `retry.on_pushback = false`.
    let upstream = Upstream::start(Fault::ExhaustedPushbackOnce("10")).await;
    let mut off = settings(&upstream);
    off.retry.on_pushback = false;
    let status = GreeterClient::new(boost_rpc::client("greeter", &off).unwrap())
        .say_hello(hello(1))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    assert_eq!(upstream.state.attempts(), 1, "on_pushback off: no retry");

    // Not idempotent: the pushback does not make it safe to send twice.
    let upstream = Upstream::start(Fault::ExhaustedPushbackOnce("10")).await;
    let mut once = settings(&upstream);
    once.retry.idempotent_methods.clear();
    let status = GreeterClient::new(boost_rpc::client("greeter", &once).unwrap())
        .say_hello(hello(1))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    assert_eq!(upstream.state.attempts(), 1, "not idempotent: no retry");
}
