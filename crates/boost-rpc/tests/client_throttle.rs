//! Client-side throttling (issue 20, point 2): an upstream refusing 80% of
//! calls gets about K × its acceptance rate of the demand; a recovered one
//! gets full traffic again within seconds; the throttle never counts its own
//! rejections, nor a caller's short deadline, against the upstream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use boost_rpc::client::{Client, ClientSettings};
use boost_test_proto::greeter_client::GreeterClient;
use client_support::{Fault, Upstream, hello, metrics};
use metrics_util::debugging::DebugValue;

/// Demand: `tasks` callers, each calling every `pace` until `stop` is set.
/// Returns the number of calls made and of calls that failed without
/// reaching the upstream.
struct Demand {
    calls: Arc<AtomicU64>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Demand {
    fn start(client: &Client, tasks: usize, pace: Duration) -> Self {
        let calls = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let tasks = (0..tasks)
            .map(|_| {
                let mut greeter = GreeterClient::new(client.clone());
                let (calls, stop) = (calls.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let _ = greeter.say_hello(hello(3)).await;
                        calls.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(pace).await;
                    }
                })
            })
            .collect();
        Self { calls, stop, tasks }
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
    }
}

fn settings(upstream: &Upstream) -> ClientSettings {
    let mut s = ClientSettings::with_endpoints([upstream.url()]);
    // Generous: the machine is loaded; the throttle, not the timeout, is tested.
    s.timeout = Duration::from_secs(5);
    s
}

/// The demand and the attempts the upstream saw over `period`.
async fn measure(demand: &Demand, upstream: &Upstream, period: Duration) -> (u64, u64) {
    let (calls, attempts) = (demand.calls(), upstream.state.attempts() as u64);
    tokio::time::sleep(period).await;
    (
        demand.calls() - calls,
        upstream.state.attempts() as u64 - attempts,
    )
}

/// The counters and gauges of `client` by name (one snapshot: a snapshot
/// drains what it reads).
fn metrics_of(client: &str) -> std::collections::HashMap<String, f64> {
    let mut found = std::collections::HashMap::new();
    for (key, _, _, value) in metrics().snapshot().into_vec() {
        let key = key.key();
        if !key
            .labels()
            .any(|l| l.key() == "client" && l.value() == client)
        {
            continue;
        }
        let value = match value {
            DebugValue::Counter(n) => n as f64,
            DebugValue::Gauge(g) => g.into_inner(),
            DebugValue::Histogram(_) => continue,
        };
        *found.entry(key.name().to_owned()).or_default() += value;
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_refusing_80_percent_gets_about_k_times_its_accepts_and_full_traffic_once_it_recovers()
 {
    metrics();
    let upstream = Upstream::start(Fault::AcceptEvery(5)).await;
    let client = boost_rpc::client("throttled", &settings(&upstream)).unwrap();
    let demand = Demand::start(&client, 4, Duration::from_millis(4));

    // The default window is 10 s: after it has filled, the share sent
    // settles at K × 0.2 = 0.4 of the demand (unthrottled it would be 1.0).
    tokio::time::sleep(Duration::from_secs(8)).await;
    let (calls, attempts) = measure(&demand, &upstream, Duration::from_secs(4)).await;
    let sent = attempts as f64 / calls as f64;
    assert!(calls > 200, "too little demand to judge: {calls} calls");
    assert!(
        (0.25..=0.6).contains(&sent),
        "designed share sent is 0.4 of the demand; got {sent:.2} ({attempts} of {calls})"
    );
    let state = client.throttle();
    assert!(
        (0.4..=0.75).contains(&state.probability),
        "designed probability (1 − 2·0.2) = 0.6: {state:?}"
    );
    // Only the upstream's answers are counted: the window holds the sent calls.
    let accepted = state.accepts as f64 / state.requests as f64;
    assert!((0.1..=0.3).contains(&accepted), "{state:?}");
    let seen = metrics_of("throttled");
    assert!(seen["rpc_client_throttled_total"] > 0.0, "{seen:?}");
    let gauge = seen["rpc_client_throttle_ratio"];
    assert!((0.3..=0.8).contains(&gauge), "gauge {gauge}");

    // Healthy again: full traffic within 5 s, no open period to sit out.
    upstream.state.set_fault(Fault::None);
    let recovered = Instant::now();
    while client.throttle().probability > 0.0 {
        assert!(
            recovered.elapsed() < Duration::from_secs(5),
            "still throttling 5 s after the upstream recovered: {:?}",
            client.throttle()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (calls, attempts) = measure(&demand, &upstream, Duration::from_secs(1)).await;
    assert!(
        attempts + 8 >= calls,
        "every call is sent once recovered: {attempts} of {calls}"
    );
    demand.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_throttling_off_every_call_reaches_the_upstream_as_before() {
    let upstream = Upstream::start(Fault::AcceptEvery(5)).await;
    let mut settings = settings(&upstream);
    settings.throttle.enabled = false;
    let client = boost_rpc::client("unthrottled", &settings).unwrap();
    let mut greeter = GreeterClient::new(client.clone());
    for _ in 0..200 {
        let _ = greeter.say_hello(hello(3)).await;
    }
    assert_eq!(upstream.state.attempts(), 200);
    assert_eq!(client.throttle().probability, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_short_deadline_is_not_held_against_the_upstream() {
    let upstream = Upstream::start(Fault::Delay(Duration::from_millis(300))).await;
    let client = boost_rpc::client("short-callers", &settings(&upstream)).unwrap();
    let mut greeter = GreeterClient::new(client.clone());
    let sent = Arc::new(AtomicUsize::new(0));
    for _ in 0..40 {
        let mut request = tonic::Request::new(hello(3));
        request.set_timeout(Duration::from_millis(10));
        let status = greeter.say_hello(request).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        sent.fetch_add(1, Ordering::Relaxed);
    }
    let state = client.throttle();
    assert_eq!(state.probability, 0.0, "{state:?}");
    assert_eq!(state.accepts, state.requests, "{state:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_times_out_the_whole_budget_is_throttled() {
    let upstream = Upstream::start(Fault::Delay(Duration::from_secs(2))).await;
    let mut settings = settings(&upstream);
    settings.timeout = Duration::from_millis(20);
    let client = boost_rpc::client("hanging", &settings).unwrap();
    let mut greeter = GreeterClient::new(client.clone());
    let mut local = 0;
    for _ in 0..60 {
        let status = greeter.say_hello(hello(3)).await.unwrap_err();
        if status.message().contains("client-side throttling") {
            assert_eq!(status.code(), tonic::Code::Unavailable);
            local += 1;
        }
    }
    assert!(
        local > 0,
        "a hanging upstream is throttled: {:?}",
        client.throttle()
    );
    assert!(
        client.throttle().probability > 0.5,
        "{:?}",
        client.throttle()
    );
}
