//! Outlier ejection and reconnect backoff (issue 6: f).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use std::time::{Duration, Instant};

use boost_rpc::client::{ClientSettings, EndpointState};
use boost_test_proto::greeter_client::GreeterClient;
use client_support::{Fault, Upstream, closed_port, hello, metrics};
use metrics_util::debugging::DebugValue;

/// `rpc_client_ejections_total` of `endpoint`, by reason.
fn ejections(endpoint: &str, reason: &str) -> u64 {
    metrics()
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, _, _, _)| {
            let key = key.key();
            key.name() == "rpc_client_ejections_total"
                && key
                    .labels()
                    .any(|l| l.key() == "endpoint" && l.value() == endpoint)
                && key
                    .labels()
                    .any(|l| l.key() == "reason" && l.value() == reason)
        })
        .map(|(_, _, _, value)| match value {
            DebugValue::Counter(n) => n,
            _ => 0,
        })
        .sum()
}

fn state_of(client: &boost_rpc::client::Client, key: &str) -> EndpointState {
    client
        .endpoints()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, s)| s)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_taken_out_and_readmitted_when_it_returns() {
    let a = Upstream::start(Fault::None).await;
    let b = Upstream::start(Fault::None).await;
    let dead = closed_port().await;
    let mut settings = ClientSettings::with_endpoints([a.url(), format!("http://{dead}"), b.url()]);
    settings.reconnect.initial_backoff = Duration::from_millis(100);
    settings.reconnect.max_backoff = Duration::from_millis(200);
    let client = boost_rpc::client("greeter", &settings).unwrap();
    let mut greeter = GreeterClient::new(client.clone());

    // SayHello is not marked idempotent here, but a refused connect was never sent: retried safely.
    for _ in 0..50 {
        greeter.say_hello(hello(1)).await.unwrap();
    }
    assert_eq!(
        a.state.attempts() + b.state.attempts(),
        50,
        "every call succeeded via the others"
    );
    assert_eq!(
        state_of(&client, &dead.to_string()),
        EndpointState::Reconnecting
    );

    // The port comes back: within a few backoff periods it takes traffic again.
    let revived = Upstream::start_on(dead, Fault::None).await;
    let started = Instant::now();
    while revived.state.attempts() == 0 && started.elapsed() < Duration::from_secs(5) {
        greeter.say_hello(hello(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        revived.state.attempts() > 0,
        "readmitted after the port returned"
    );
    assert_eq!(state_of(&client, &dead.to_string()), EndpointState::Ready);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_five_times_in_a_row_is_ejected_then_probed_back() {
    let good = Upstream::start(Fault::None).await;
    let flaky = Upstream::start(Fault::Unavailable).await;
    let good2 = Upstream::start(Fault::None).await;
    let _ = metrics();
    let mut settings = ClientSettings::with_endpoints([good.url(), flaky.url(), good2.url()]);
    settings.retry.idempotent_methods = vec!["hello.v1.Greeter/SayHello".into()];
    settings.ejection.base_ejection = Duration::from_millis(500);
    // P2C alone already steers away from a failing endpoint; a short decay
    // forgives it quickly so it keeps getting traffic and ejection must act.
    settings.balance.decay = Duration::from_millis(20);
    let client = boost_rpc::client("greeter", &settings).unwrap();
    let mut greeter = GreeterClient::new(client.clone());
    let key = flaky.addr.to_string();

    let started = Instant::now();
    while state_of(&client, &key) != EndpointState::Ejected
        && started.elapsed() < Duration::from_secs(5)
    {
        greeter.say_hello(hello(1)).await.unwrap(); // retried elsewhere: never fails
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(state_of(&client, &key), EndpointState::Ejected);
    let at_ejection = flaky.state.attempts();
    assert!(
        at_ejection >= 5,
        "ejected after 5 consecutive failures, saw {at_ejection}"
    );
    assert_eq!(
        ejections(&key, "consecutive_failures"),
        1,
        "the ejection is counted once, with its reason"
    );

    // While ejected (≥ 400 ms with jitter) it gets no traffic at all.
    let ejected_at = Instant::now();
    for _ in 0..30 {
        greeter.say_hello(hello(1)).await.unwrap();
    }
    if ejected_at.elapsed() < Duration::from_millis(350) {
        assert_eq!(
            flaky.state.attempts(),
            at_ejection,
            "no calls to an ejected endpoint"
        );
    }

    // Healthy again: the probe after the ejection time readmits it.
    flaky.state.set_fault(Fault::None);
    let started = Instant::now();
    while state_of(&client, &key) != EndpointState::Ready
        && started.elapsed() < Duration::from_secs(5)
    {
        greeter.say_hello(hello(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(state_of(&client, &key), EndpointState::Ready);
    assert!(flaky.state.attempts() > at_ejection);
}

#[tokio::test]
async fn with_nothing_available_a_call_fails_fast_saying_why() {
    let dead = closed_port().await;
    let settings = ClientSettings::with_endpoints([format!("http://{dead}")]);
    let mut greeter = GreeterClient::new(boost_rpc::client("greeter", &settings).unwrap());
    let first = greeter.say_hello(hello(1)).await.unwrap_err();
    assert_eq!(first.code(), tonic::Code::Unavailable);

    // Now the only endpoint waits out its reconnect backoff (1 s): no queueing.
    let started = Instant::now();
    let status = greeter.say_hello(hello(1)).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "failed fast"
    );
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(
        status.message().contains("reconnecting"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains(&dead.to_string()),
        "{}",
        status.message()
    );
}
