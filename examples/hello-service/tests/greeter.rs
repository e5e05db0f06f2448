//! The Greeter against a fake profile-service: greets in the profile's
//! language, caches answers (absence included), and degrades to English —
//! counted in `hello_degraded_total` — when the upstream fails or the
//! deadline is too near.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use boost::prelude::*;
use boost::tonic::{self as tonic, Request, Response, Status};
use boost::{metrics, tokio};
use hello_service::greeter::{Degraded, Greeter};
use hello_service::proto::profiles_server::{Profiles, ProfilesServer};
use hello_service::proto::{GetProfileRequest, Profile};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// How the fake upstream behaves.
#[derive(Clone, Copy)]
enum Upstream {
    /// bob → fr, everyone else NOT_FOUND.
    Table,
    /// Always UNAVAILABLE.
    Down,
    /// Answers after 2 s.
    Slow,
}

#[derive(Clone)]
struct Fake {
    mode: Upstream,
    calls: Arc<AtomicUsize>,
}

#[boost::tonic::async_trait]
impl Profiles for Fake {
    async fn get_profile(
        &self,
        request: Request<GetProfileRequest>,
    ) -> Result<Response<Profile>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let name = request.into_inner().name;
        match self.mode {
            Upstream::Down => Err(Status::unavailable("down for maintenance")),
            Upstream::Slow => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                Ok(Response::new(Profile {
                    name,
                    language: "fr".into(),
                }))
            }
            Upstream::Table if name == "bob" => Ok(Response::new(Profile {
                name,
                language: "fr".into(),
            })),
            Upstream::Table => Err(Status::not_found("no such profile")),
        }
    }
}

/// A fake profile-service on a free port; stops with the test's runtime.
async fn fake_upstream(mode: Upstream) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let service = ProfilesServer::new(Fake {
        mode,
        calls: Arc::clone(&calls),
    });
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    (format!("http://{addr}"), calls)
}

/// A greeter on `endpoint`, its metrics recorded into a local recorder.
fn greeter(endpoint: &str, timeout: Duration) -> (Greeter, Snapshotter) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let mut settings = ClientSettings::with_endpoints([endpoint]);
    settings.timeout = timeout;
    settings.retry.idempotent_methods = vec![hello_service::settings::GET_PROFILE.to_owned()];
    let mut cache = CacheSettings::new("profiles");
    cache.negative_ttl = Some(Duration::from_secs(30));
    let greeter = metrics::with_local_recorder(&recorder, || {
        let client = boost::rpc::client("profiles", &settings).unwrap();
        Greeter::from_parts(
            client,
            Cache::new(cache).unwrap(),
            Duration::from_millis(20),
        )
    });
    (greeter, snapshotter)
}

fn degraded_count(snapshotter: &Snapshotter, reason: &str) -> u64 {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, _, _, _)| {
            key.key().name() == "hello_degraded_total"
                && key.key().labels().any(|l| l.value() == reason)
        })
        .map(|(_, _, _, value)| match value {
            DebugValue::Counter(n) => n,
            _ => 0,
        })
        .sum()
}

#[tokio::test(crate = "boost::tokio")]
async fn greets_in_the_profile_language_and_caches_it() {
    let (endpoint, calls) = fake_upstream(Upstream::Table).await;
    let (greeter, _) = greeter(&endpoint, Duration::from_secs(2));
    let first = greeter.greeting_for("bob").await;
    assert_eq!(first.message, "Bonjour, bob!");
    assert_eq!(first.degraded, None);
    assert_eq!(greeter.greeting_for("bob").await.message, "Bonjour, bob!");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the second greeting came from the cache"
    );
}

#[tokio::test(crate = "boost::tokio")]
async fn unknown_person_is_greeted_in_english_and_the_absence_is_cached() {
    let (endpoint, calls) = fake_upstream(Upstream::Table).await;
    let (greeter, snapshotter) = greeter(&endpoint, Duration::from_secs(2));
    for _ in 0..3 {
        let greeting = greeter.greeting_for("zoe").await;
        assert_eq!(greeting.message, "Hello, zoe!");
        assert_eq!(
            greeting.degraded, None,
            "NOT_FOUND is an answer, not a failure"
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "NOT_FOUND is cached as absent"
    );
    assert_eq!(degraded_count(&snapshotter, "upstream"), 0);
}

#[tokio::test(crate = "boost::tokio")]
async fn failing_upstream_degrades_to_english_and_is_counted() {
    let (endpoint, calls) = fake_upstream(Upstream::Down).await;
    let (greeter, snapshotter) = greeter(&endpoint, Duration::from_secs(2));
    let greeting = greeter.greeting_for("bob").await;
    assert_eq!(greeting.message, "Hello, bob!");
    assert_eq!(greeting.degraded, Some(Degraded::Upstream));
    assert!(
        calls.load(Ordering::SeqCst) >= 2,
        "UNAVAILABLE was retried before degrading"
    );
    // Failures are not cached: the next greeting asks again.
    let before = calls.load(Ordering::SeqCst);
    greeter.greeting_for("bob").await;
    assert!(calls.load(Ordering::SeqCst) > before);
    assert_eq!(degraded_count(&snapshotter, "upstream"), 2);
}

#[tokio::test(crate = "boost::tokio")]
async fn slow_upstream_degrades_within_the_client_timeout() {
    let (endpoint, _) = fake_upstream(Upstream::Slow).await;
    let (greeter, snapshotter) = greeter(&endpoint, Duration::from_millis(200));
    let started = Instant::now();
    let greeting = greeter.greeting_for("bob").await;
    let took = started.elapsed();
    assert_eq!(greeting.degraded, Some(Degraded::Upstream));
    assert!(
        took < Duration::from_secs(1),
        "took {took:?}: well under the 2 s the upstream sleeps"
    );
    assert_eq!(degraded_count(&snapshotter, "upstream"), 1);
}

#[tokio::test(crate = "boost::tokio")]
async fn a_near_deadline_skips_the_upstream_and_answers_at_once() {
    let (endpoint, calls) = fake_upstream(Upstream::Table).await;
    let (greeter, snapshotter) = greeter(&endpoint, Duration::from_secs(2));
    let deadline = std::time::Instant::now() + Duration::from_millis(5);
    let greeting = boost::rpc::deadline::scope(deadline, greeter.greeting_for("bob")).await;
    assert_eq!(greeting.message, "Hello, bob!");
    assert_eq!(greeting.degraded, Some(Degraded::Deadline));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "no time was spent on the upstream"
    );
    assert_eq!(degraded_count(&snapshotter, "deadline"), 1);
}

#[tokio::test(crate = "boost::tokio")]
async fn a_cached_language_is_used_even_when_the_deadline_is_near() {
    let (endpoint, calls) = fake_upstream(Upstream::Table).await;
    let (greeter, snapshotter) = greeter(&endpoint, Duration::from_secs(2));
    assert_eq!(greeter.greeting_for("bob").await.message, "Bonjour, bob!");
    let deadline = std::time::Instant::now() + Duration::from_millis(5);
    let greeting = boost::rpc::deadline::scope(deadline, greeter.greeting_for("bob")).await;
    assert_eq!(greeting.message, "Bonjour, bob!");
    assert_eq!(greeting.degraded, None);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(degraded_count(&snapshotter, "deadline"), 0);
}

#[tokio::test(crate = "boost::tokio")]
async fn the_callers_deadline_bounds_the_lookup() {
    let (endpoint, _) = fake_upstream(Upstream::Slow).await;
    let (greeter, _) = greeter(&endpoint, Duration::from_secs(5));
    let started = Instant::now();
    let deadline = std::time::Instant::now() + Duration::from_millis(300);
    let greeting = boost::rpc::deadline::scope(deadline, greeter.greeting_for("bob")).await;
    let took = started.elapsed();
    assert_eq!(greeting.message, "Hello, bob!");
    assert!(
        took < Duration::from_millis(1500),
        "took {took:?}: the 300ms deadline, not the 2 s upstream"
    );
}

#[tokio::test(crate = "boost::tokio")]
async fn a_distant_caller_deadline_does_not_lift_the_client_timeout() {
    // grpcio, Go and Envoy callers send generous deadlines: the lookup must
    // still end at `profiles.timeout` (200 ms here), not near the caller's 10 s.
    let (endpoint, _) = fake_upstream(Upstream::Slow).await;
    let (greeter, snapshotter) = greeter(&endpoint, Duration::from_millis(200));
    let started = Instant::now();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let greeting = boost::rpc::deadline::scope(deadline, greeter.greeting_for("bob")).await;
    let took = started.elapsed();
    assert_eq!(greeting.message, "Hello, bob!");
    assert_eq!(greeting.degraded, Some(Degraded::Upstream));
    assert!(
        took < Duration::from_millis(1500),
        "took {took:?}: the 200 ms client timeout, not the 2 s upstream or the 10 s deadline"
    );
    assert_eq!(degraded_count(&snapshotter, "upstream"), 1);
}

#[tokio::test(crate = "boost::tokio")]
async fn a_name_over_the_limit_is_invalid_and_never_sent_upstream() {
    use hello_service::proto::HelloRequest;
    use hello_service::proto::greeter_server::Greeter as _;
    let (endpoint, calls) = fake_upstream(Upstream::Table).await;
    let (greeter, _) = greeter(&endpoint, Duration::from_secs(2));
    let name = "n".repeat(1 << 20);
    let status = greeter
        .say_hello(Request::new(HelloRequest { name }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().len() < 100, "{}", status.message());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "refused before the upstream"
    );
    let name = "n".repeat(hello_service::greeter::MAX_NAME_BYTES);
    let reply = greeter
        .say_hello(Request::new(HelloRequest { name }))
        .await
        .unwrap();
    assert!(reply.into_inner().message.starts_with("Hello, nnn"));
}

#[tokio::test(crate = "boost::tokio")]
async fn profiles_upstream_switched_off_greets_in_english_without_calling_it() {
    let (endpoint, calls) = fake_upstream(Upstream::Table).await;
    let (greeter, snapshotter) = greeter(&endpoint, Duration::from_secs(2));
    let switches = Switches::in_memory([(
        hello_service::greeter::PROFILES_UPSTREAM,
        SwitchDef::toggle("Call profile-service.", "greeters", true),
    )])
    .unwrap();
    let greeter = greeter.with_profiles_switch(switches.get("profiles_upstream").unwrap());
    assert_eq!(greeter.greeting_for("bob").await.message, "Bonjour, bob!");
    let change = boost::switches::Change::new(
        boost::switches::Value::Enabled(false),
        "jo",
        "profile-service is down",
    );
    switches.set("profiles_upstream", change).await.unwrap();
    let before = calls.load(Ordering::SeqCst);
    let greeting = greeter.greeting_for("bob").await;
    assert_eq!(
        greeting.message, "Hello, bob!",
        "English, even for a cached profile"
    );
    assert_eq!(greeting.degraded, Some(Degraded::SwitchedOff));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before,
        "profile-service not called"
    );
    assert_eq!(degraded_count(&snapshotter, "switched_off"), 1);
}

#[tokio::test(crate = "boost::tokio")]
async fn the_http_route_greets_as_the_grpc_method_does() {
    use hello_service::proto::HelloRequest;
    use hello_service::proto::greeter_server::Greeter as _;
    let (endpoint, _) = fake_upstream(Upstream::Table).await;
    let (greeter, _) = greeter(&endpoint, Duration::from_secs(2));
    let routes = hello_service::http::routes(greeter.clone())
        .layer(boost::web::server::stack(&HttpSettings::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { boost::axum::serve(listener, routes).await });
    let http = HttpClient::new("hello", &HttpClientSettings::with_base_urls([base])).unwrap();

    for name in ["bob", "alice"] {
        let over_grpc = greeter
            .say_hello(Request::new(HelloRequest { name: name.into() }))
            .await
            .unwrap()
            .into_inner()
            .message;
        let response = http.get(&format!("/v1/hello/{name}")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let reply: hello_service::http::HelloReply = response.json().unwrap();
        assert_eq!(reply.message, over_grpc, "one greeting, two protocols");
    }
    assert_eq!(
        http.get("/v1/hello/bob")
            .send()
            .await
            .unwrap()
            .json::<hello_service::http::HelloReply>()
            .unwrap()
            .message,
        "Bonjour, bob!"
    );

    // A name over the limit: 400 with a problem+json body, as INVALID_ARGUMENT over gRPC.
    let long = "n".repeat(hello_service::greeter::MAX_NAME_BYTES + 1);
    let refused = http.get(&format!("/v1/hello/{long}")).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let problem = refused.text();
    assert!(problem.contains(r#""status":400"#), "{problem}");
}
