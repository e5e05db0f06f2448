//! Load balancing (issue 6: e): P2C over Peak-EWMA steers calls away from a slow endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use std::time::Duration;

use boost_rpc::client::ClientSettings;
use boost_test_proto::greeter_client::GreeterClient;
use client_support::{Fault, Upstream, hello};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_warm_up_ninety_percent_of_calls_avoid_the_slow_endpoint() {
    let fast_a = Upstream::start(Fault::None).await;
    let fast_b = Upstream::start(Fault::None).await;
    let slow = Upstream::start(Fault::Delay(Duration::from_millis(100))).await;
    let settings = ClientSettings::with_endpoints([fast_a.url(), slow.url(), fast_b.url()]);
    let client = boost_rpc::client("greeter", &settings).unwrap();

    // Warm-up: every endpoint answers at least once.
    let mut warm = Vec::new();
    for _ in 0..12 {
        let mut g = GreeterClient::new(client.clone());
        warm.push(tokio::spawn(
            async move { g.say_hello(hello(1)).await.unwrap() },
        ));
    }
    for w in warm {
        w.await.unwrap();
    }
    let before = (
        fast_a.state.attempts(),
        fast_b.state.attempts(),
        slow.state.attempts(),
    );
    assert!(before.2 > 0, "warm-up reached the slow endpoint");

    // Measured: 4 concurrent callers, 200 calls.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let mut g = GreeterClient::new(client.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                g.say_hello(hello(1)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let fast = fast_a.state.attempts() + fast_b.state.attempts() - before.0 - before.1;
    let slow_calls = slow.state.attempts() - before.2;
    let share = fast as f64 / (fast + slow_calls) as f64;
    assert!(share >= 0.9, "{fast} fast vs {slow_calls} slow: {share:.3}");
    assert!(
        fast_a.state.attempts() > before.0 + 20 && fast_b.state.attempts() > before.1 + 20,
        "both fast endpoints share the load"
    );
}
