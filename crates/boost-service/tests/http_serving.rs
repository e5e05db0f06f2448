//! An axum router served by the kit on `http.listen`: the server stack, the
//! `[http]` section, and the lifecycle (drain, in-flight requests finish).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use boost_service::{NoSettings, Service};
use tokio::sync::Notify;

fn config(sets: &[&str]) -> boost_config::Loaded<boost_service::Config<NoSettings>> {
    let mut args = Vec::new();
    for set in [
        "admin.listen=127.0.0.1:0",
        "http.listen=127.0.0.1:0",
        "lifecycle.drain_delay=0s",
    ]
    .iter()
    .chain(sets)
    {
        args.extend(["--set".to_owned(), (*set).to_owned()]);
    }
    boost_config::Loader::new("http-config-test")
        .dir("no/such/dir")
        .env_vars([("APP_ENV", "")])
        .args(args)
        .load()
        .unwrap()
}

#[tokio::test]
async fn routes_are_served_under_the_stack_and_in_flight_requests_finish_at_shutdown() {
    let entered = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let (e, r) = (Arc::clone(&entered), Arc::clone(&release));
    let routes = Router::new()
        .route("/v1/ping", get(|| async { "pong" }))
        .route(
            "/v1/slow",
            get(move || {
                let (e, r) = (Arc::clone(&e), Arc::clone(&r));
                async move {
                    e.notify_one();
                    r.notified().await;
                    "finished"
                }
            }),
        );
    let running = Service::without_telemetry(config(&["http.max_request_body=16B"]))
        .handle_signals(false)
        .http(routes)
        .start()
        .await
        .unwrap();
    let base = format!("http://{}", running.http_addr().unwrap());
    let http = reqwest::Client::new();

    let ping = http.get(format!("{base}/v1/ping")).send().await.unwrap();
    assert_eq!(ping.status(), 200);
    assert_eq!(ping.headers()["x-request-id"].len(), 32);
    let missing = http.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    let big = http
        .post(format!("{base}/v1/ping"))
        .body("x".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413, "http.max_request_body from the config");

    let slow = tokio::spawn(http.get(format!("{base}/v1/slow")).send());
    entered.notified().await;
    let lifecycle = running.lifecycle().clone();
    let shutdown = running.shutdown_handle();
    let waiting = tokio::spawn(running.wait());
    shutdown.trigger();
    // Stop accepting: new connections are refused once the listener closes.
    let started = Instant::now();
    loop {
        let fresh = reqwest::Client::new();
        if fresh.get(format!("{base}/v1/ping")).send().await.is_err() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "listener never closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !waiting.is_finished(),
        "an in-flight request holds the shutdown"
    );
    release.notify_one();
    let response = slow.await.unwrap().unwrap();
    assert_eq!(response.text().await.unwrap(), "finished");
    waiting.await.unwrap().unwrap();
    let _ = lifecycle;
}

#[tokio::test]
async fn during_the_drain_delay_readiness_fails_while_http_still_serves() {
    // `--set` later wins: a drain window long enough to look inside on a
    // loaded machine (the requests below take milliseconds).
    let drain = Duration::from_secs(5);
    let routes = Router::new().route("/v1/ping", get(|| async { "pong" }));
    let running = Service::without_telemetry(config(&["lifecycle.drain_delay=5s"]))
        .handle_signals(false)
        .http(routes)
        .start()
        .await
        .unwrap();
    let base = format!("http://{}", running.http_addr().unwrap());
    let ready = format!("http://{}/health/ready", running.admin_addr());
    let http = reqwest::Client::new();
    assert_eq!(http.get(&ready).send().await.unwrap().status(), 200);

    let shutdown = running.shutdown_handle();
    let waiting = tokio::spawn(running.wait());
    let triggered = Instant::now();
    shutdown.trigger();
    // Load balancers see the replica leave...
    let started = Instant::now();
    while http.get(&ready).send().await.unwrap().status() != 503 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "readiness never failed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...while requests already on their way, on new connections too, are served.
    let fresh = reqwest::Client::new();
    let ping = fresh.get(format!("{base}/v1/ping")).send().await.unwrap();
    assert_eq!(ping.status(), 200);
    assert!(
        triggered.elapsed() < drain,
        "checked inside the drain window"
    );
    // Then the listener closes, not before the window ends.
    loop {
        if reqwest::Client::new()
            .get(format!("{base}/v1/ping"))
            .send()
            .await
            .is_err()
        {
            break;
        }
        assert!(
            triggered.elapsed() < drain + Duration::from_secs(15),
            "listener never closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        triggered.elapsed() >= drain - Duration::from_millis(100),
        "the listener closed after {:?}, before the {drain:?} drain delay",
        triggered.elapsed()
    );
    waiting.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_busy_http_listen_fails_the_start_naming_the_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = format!("http.listen={}", taken.local_addr().unwrap());
    let err = Service::without_telemetry(config(&[busy.as_str()]))
        .handle_signals(false)
        .http(Router::new().route("/", get(|| async { "hi" })))
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, boost_service::Error::Http(_)), "{err:?}");
    assert!(err.to_string().contains("http.listen"), "{err}");
}

#[test]
fn bad_http_settings_are_refused_at_load_naming_the_key() {
    let err = boost_config::Loader::new("http-config-test")
        .dir("no/such/dir")
        .env_vars([
            ("APP_ENV", ""),
            ("HTTP_CONFIG_TEST__HTTP__REQUEST_TIMEOUT", "0s"),
        ])
        .load::<boost_service::Config<NoSettings>>()
        .unwrap_err()
        .to_string();
    assert!(err.contains("http.request_timeout"), "{err}");
}

/// An upstream Greeter that answers with the `x-request-id` and
/// `grpc-timeout` it received.
struct EchoMetadata;

#[tonic::async_trait]
impl boost_test_proto::greeter_server::Greeter for EchoMetadata {
    async fn say_hello(
        &self,
        request: tonic::Request<boost_test_proto::HelloRequest>,
    ) -> Result<tonic::Response<boost_test_proto::HelloReply>, tonic::Status> {
        let get = |key: &str| {
            request
                .metadata()
                .get(key)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        Ok(tonic::Response::new(boost_test_proto::HelloReply {
            message: format!("{} {}", get("x-request-id"), get("grpc-timeout")),
        }))
    }
}

/// A served HTTP request calls a gRPC upstream through boost-rpc: the
/// upstream gets the HTTP request's id and a `grpc-timeout` within the HTTP
/// request's deadline, as a gRPC request's outbound calls do.
#[tokio::test]
async fn grpc_calls_made_while_serving_http_carry_its_request_id_and_deadline() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(boost_test_proto::greeter_server::GreeterServer::new(
                EchoMetadata,
            ))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let mut settings =
        boost_rpc::client::ClientSettings::with_endpoints([format!("http://{upstream}")]);
    settings.timeout = Duration::from_secs(30);
    let client = boost_rpc::client("upstream", &settings).unwrap();
    let routes = Router::new().route(
        "/v1/relay",
        get(move || {
            let mut greeter = boost_test_proto::greeter_client::GreeterClient::new(client.clone());
            async move {
                greeter
                    .say_hello(boost_test_proto::HelloRequest { name: "x".into() })
                    .await
                    .map(|r| r.into_inner().message)
                    .unwrap_or_else(|status| format!("failed: {status}"))
            }
        }),
    );
    let running =
        Service::without_telemetry(config(&["http.deadline_header=x-request-timeout-ms"]))
            .handle_signals(false)
            .http(routes)
            .start()
            .await
            .unwrap();
    let base = format!("http://{}", running.http_addr().unwrap());
    let reply = reqwest::Client::new()
        .get(format!("{base}/v1/relay"))
        .header("x-request-id", "http-req-5")
        .header("x-request-timeout-ms", "2000")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (id, timeout) = reply.split_once(' ').unwrap_or_default();
    assert_eq!(id, "http-req-5", "{reply}");
    // grpc-timeout is digits plus a unit; within the 2 s HTTP deadline, not the client's 30 s.
    let (digits, unit) = timeout.split_at(timeout.len().saturating_sub(1));
    let value: u64 = digits.parse().unwrap_or(u64::MAX);
    let millis = match unit {
        "m" => value,
        "u" => value / 1000,
        "n" => value / 1_000_000,
        "S" => value.saturating_mul(1000),
        _ => u64::MAX,
    };
    assert!(
        millis <= 2000 && millis > 0,
        "grpc-timeout {timeout:?} ({reply})"
    );
    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}
