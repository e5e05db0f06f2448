//! The client's concurrency limit: a bounded wait, then RESOURCE_EXHAUSTED.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use std::time::{Duration, Instant};

use boost_rpc::client::ClientSettings;
use boost_test_proto::greeter_client::GreeterClient;
use client_support::{Fault, Upstream, hello};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_limit_calls_fail_fast_with_resource_exhausted() {
    let upstream = Upstream::start(Fault::Delay(Duration::from_millis(300))).await;
    let mut settings = ClientSettings::with_endpoints([upstream.url()]);
    settings.timeout = Duration::from_secs(2);
    settings.concurrency.limit = 2;
    settings.concurrency.max_wait = Duration::from_millis(20);
    let client = boost_rpc::client("greeter", &settings).unwrap();

    let mut tasks = Vec::new();
    for _ in 0..5 {
        let mut greeter = GreeterClient::new(client.clone());
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let result = greeter.say_hello(hello(1)).await;
            (
                result
                    .map(|_| ())
                    .map_err(|s| (s.code(), s.message().to_owned())),
                started.elapsed(),
            )
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            (Ok(()), _) => ok += 1,
            (Err((code, message)), took) => {
                assert_eq!(code, tonic::Code::ResourceExhausted, "{message}");
                assert!(message.contains("limit of 2"), "{message}");
                assert!(
                    took < Duration::from_millis(250),
                    "failed fast, took {took:?}"
                );
            }
        }
    }
    assert_eq!(ok, 2);
    assert_eq!(upstream.state.attempts(), 2, "shed calls were never sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_of_zero_turns_the_limit_off() {
    let upstream = Upstream::start(Fault::Delay(Duration::from_millis(200))).await;
    let mut settings = ClientSettings::with_endpoints([upstream.url()]);
    settings.timeout = Duration::from_secs(5);
    settings.concurrency.limit = 0;
    settings.concurrency.max_wait = Duration::from_millis(1);
    let client = boost_rpc::client("greeter", &settings).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut greeter = GreeterClient::new(client.clone());
        tasks.push(tokio::spawn(
            async move { greeter.say_hello(hello(1)).await },
        ));
    }
    for t in tasks {
        t.await.unwrap().expect("no call is shed");
    }
    assert_eq!(upstream.state.attempts(), 8);
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused_naming_the_client_and_key() {
    let mut settings = ClientSettings::with_endpoints(["http://127.0.0.1:1"]);
    settings.ejection.success_rate = 80.0;
    let error = boost_rpc::client("profiles", &settings).unwrap_err();
    assert!(matches!(error, boost_rpc::RpcError::Config(_)), "{error:?}");
    let error = error.to_string();
    assert!(
        error.contains("`profiles.ejection.success_rate` (set in code): is 80"),
        "{error}"
    );

    let mut settings = ClientSettings::with_endpoints(["http://svc:CANARY_PW@127.0.0.1:1"]);
    settings.timeout = Duration::from_millis(300);
    let error = boost_rpc::client("profiles", &settings)
        .unwrap_err()
        .to_string();
    assert!(error.contains("`profiles.endpoints.0`"), "{error}");
    assert!(!error.contains("CANARY_PW"), "{error}");

    let mut settings = ClientSettings::with_endpoints(["http://127.0.0.1:1"]);
    settings.retry.codes = vec!["UNAVAILABLE".into(), "SOMETIMES".into()];
    let error = boost_rpc::client("profiles", &settings)
        .unwrap_err()
        .to_string();
    assert!(error.contains("`profiles.retry.codes.1`"), "{error}");
    assert!(
        error.contains("\"SOMETIMES\" is not a gRPC status code"),
        "{error}"
    );
}

#[test]
fn a_client_built_outside_a_runtime_says_so() {
    let settings = ClientSettings::with_endpoints(["http://127.0.0.1:1"]);
    let error = boost_rpc::client("profiles", &settings).unwrap_err();
    assert!(
        matches!(&error, boost_rpc::RpcError::NoRuntime { client } if client == "profiles"),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("inside a tokio runtime"),
        "{error}"
    );
}
