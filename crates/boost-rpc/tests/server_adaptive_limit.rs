//! The server's concurrency limit under load: the adaptive limit finds a
//! handler's capacity when it drops and when it returns; the fixed limit
//! sheds exactly where it is set, as it always did.
//!
//! The handler has a capacity that changes at run time: a semaphore of
//! `permits` (calls beyond them queue inside the handler, as on a saturated
//! server) and a fixed 20 ms of service time. A closed loop of more callers
//! than that capacity drives it; a shed caller waits the server's
//! `grpc-retry-pushback-ms` before calling again, as a kit client would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use boost_rpc::server::{self, ServerSettings};
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use tokio::sync::Semaphore;
use tonic::transport::Channel;
use tonic::transport::server::TcpIncoming;

/// Time each call spends in the handler once it has a permit.
const SERVICE_TIME: Duration = Duration::from_millis(20);

/// A handler that serves `permits` calls at once, each in `service_time`
/// ([`SERVICE_TIME`] unless told otherwise).
#[derive(Clone)]
struct Capacity {
    permits: Arc<Semaphore>,
    service_time: Duration,
    /// Service actually given (a loaded machine's timers run late): total
    /// nanoseconds and calls, to know the capacity really on offer.
    served: Arc<(AtomicU64, AtomicU64)>,
}

impl Capacity {
    fn new(permits: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            service_time: SERVICE_TIME,
            served: Arc::default(),
        }
    }

    /// Total service time given so far, and calls served.
    fn served(&self) -> (Duration, u64) {
        let nanos = self.served.0.load(Ordering::Relaxed);
        (
            Duration::from_nanos(nanos),
            self.served.1.load(Ordering::Relaxed),
        )
    }

    /// Takes `n` permits away until the returned permit is dropped. (It
    /// queues like a call, and then holds them.)
    async fn shrink(&self, n: usize) -> tokio::sync::OwnedSemaphorePermit {
        let n = u32::try_from(n).unwrap();
        self.permits.clone().acquire_many_owned(n).await.unwrap()
    }
}

#[tonic::async_trait]
impl Greeter for Capacity {
    async fn say_hello(
        &self,
        _request: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| tonic::Status::internal("closed"))?;
        let start = Instant::now();
        tokio::time::sleep(self.service_time).await;
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap();
        self.served.0.fetch_add(nanos, Ordering::Relaxed);
        self.served.1.fetch_add(1, Ordering::Relaxed);
        Ok(tonic::Response::new(HelloReply {
            message: "ok".into(),
        }))
    }
}

/// Serves `handler` under the stack of `settings`; returns the address and
/// the stack (to read its limit).
async fn serve(settings: &ServerSettings, handler: Capacity) -> (SocketAddr, server::ServerStack) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let stack = server::stack(settings);
    let router = settings
        .apply(tonic::transport::Server::builder())
        .layer(stack.clone())
        .add_service(GreeterServer::new(handler));
    tokio::spawn(router.serve_with_incoming(incoming));
    (addr, stack)
}

async fn channel(addr: SocketAddr) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .tcp_nodelay(true)
        .connect()
        .await
        .unwrap()
}

/// What the callers saw, by the time since the run started.
#[derive(Default)]
struct Seen {
    /// Answered calls: (when it ended, how long it took).
    ok: Vec<(Duration, Duration)>,
    shed: usize,
    /// Sheds that carried no `grpc-retry-pushback-ms`.
    shed_without_pushback: usize,
    /// Any other outcome.
    errors: Vec<String>,
}

impl Seen {
    fn merge(&mut self, other: Seen) {
        self.ok.extend(other.ok);
        self.shed += other.shed;
        self.shed_without_pushback += other.shed_without_pushback;
        self.errors.extend(other.errors);
    }

    /// Latencies of the calls that ended in `[from, to)`, sorted.
    fn latencies(&self, from: Duration, to: Duration) -> Vec<Duration> {
        let mut l: Vec<_> = self
            .ok
            .iter()
            .filter(|(at, _)| (from..to).contains(at))
            .map(|(_, took)| *took)
            .collect();
        l.sort();
        l
    }
}

fn p99(sorted: &[Duration]) -> Duration {
    assert!(!sorted.is_empty(), "no calls answered in the interval");
    sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)]
}

/// `callers` closed loops on `channel` until `stop`; each shed caller waits
/// the pushback (or 100 ms) before its next call.
fn load(
    channel: &Channel,
    callers: usize,
    start: Instant,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Seen>> {
    (0..callers)
        .map(|_| {
            let mut client = GreeterClient::new(channel.clone());
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut seen = Seen::default();
                // Bounded: at most ~60 s of 20 ms calls.
                for _ in 0..5000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let sent = Instant::now();
                    let request = tonic::Request::new(HelloRequest { name: "x".into() });
                    match client.say_hello(request).await {
                        Ok(_) => seen.ok.push((start.elapsed(), sent.elapsed())),
                        Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                            seen.shed += 1;
                            let pushback = status
                                .metadata()
                                .get("grpc-retry-pushback-ms")
                                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                            if pushback.is_none() {
                                seen.shed_without_pushback += 1;
                            }
                            let wait = Duration::from_millis(pushback.unwrap_or(100));
                            tokio::time::sleep(wait).await;
                        }
                        Err(status) => {
                            seen.errors.push(format!("{status:?}"));
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
                seen
            })
        })
        .collect()
}

/// The limit every 100 ms, by the time since the run started.
fn watch_limit(
    stack: &server::ServerStack,
    start: Instant,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(Duration, usize)>> {
    let shed = stack.load_shed().clone();
    let stop = stop.clone();
    tokio::spawn(async move {
        let mut limits = Vec::new();
        for _ in 0..1000 {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            limits.push((start.elapsed(), shed.state().limit));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        limits
    })
}

fn mean_limit(limits: &[(Duration, usize)], from: Duration, to: Duration) -> f64 {
    let inside: Vec<f64> = limits
        .iter()
        .filter(|(at, _)| (from..to).contains(at))
        .map(|(_, l)| *l as f64)
        .collect();
    assert!(!inside.is_empty());
    inside.iter().sum::<f64>() / inside.len() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adaptive_limit_follows_capacity_down_and_back_up() {
    const PERMITS: usize = 32;
    const CALLERS: usize = 96;
    let mut settings = ServerSettings::default();
    settings.adaptive_limit.enabled = true;
    // Below the capacity: the first windows teach it the no-load latency.
    settings.adaptive_limit.initial_limit = 16;
    settings.adaptive_limit.min_limit = 4;
    let handler = Capacity::new(PERMITS);
    let (addr, stack) = serve(&settings, handler.clone()).await;
    let channel = channel(addr).await;
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let callers = load(&channel, CALLERS, start, &stop);
    let limits = watch_limit(&stack, start, &stop);
    let shed = stack.load_shed().clone();

    // Healthy: 32 permits. Measured once the limit has grown (from 4 s).
    let secs = Duration::from_secs;
    tokio::time::sleep_until((start + secs(4)).into()).await;
    let mut healthy_limits = Vec::new();
    while start.elapsed() < secs(8) {
        healthy_limits.push(shed.state().limit as f64);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let healthy_limit = healthy_limits.iter().sum::<f64>() / healthy_limits.len() as f64;
    // Capacity halves.
    let taken = handler.shrink(PERMITS / 2).await;
    let halved_at = start.elapsed();
    // Within 10 s the limit follows it down (by a fifth at least: it settles
    // near half, above it on a loaded machine, whose delays look like queueing).
    let mut adapted_after = None;
    for _ in 0..100 {
        if (shed.state().limit as f64) <= healthy_limit * 0.8 {
            adapted_after = Some(start.elapsed() - halved_at);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Measure the adapted server for 5 s, from 10 s after the halving.
    tokio::time::sleep_until((start + halved_at + secs(10)).into()).await;
    let served_before = handler.served();
    tokio::time::sleep_until((start + halved_at + secs(15)).into()).await;
    let served_after = handler.served();
    drop(taken);
    let restored_at = start.elapsed();
    // Within 30 s the limit rises back (to four fifths of where it was).
    let mut risen_after = None;
    for _ in 0..300 {
        if shed.state().limit as f64 >= healthy_limit * 0.8 {
            risen_after = Some(start.elapsed() - restored_at);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut seen = Seen::default();
    for caller in callers {
        seen.merge(caller.await.unwrap());
    }
    let limits = limits.await.unwrap();

    let healthy = seen.latencies(secs(4), halved_at);
    let adapted_from = halved_at + secs(10);
    let adapted = seen.latencies(adapted_from, restored_at);
    let goodput = adapted.len() as f64 / (restored_at - adapted_from).as_secs_f64();
    // The new capacity: 16 permits, each call the service time the handler
    // really gave (20 ms and whatever the loaded machine's timers add).
    let service_time = (served_after.0 - served_before.0).as_secs_f64()
        / (served_after.1 - served_before.1).max(1) as f64;
    let capacity = (PERMITS / 2) as f64 / service_time.max(SERVICE_TIME.as_secs_f64());
    let report = format!(
        "healthy limit {healthy_limit:.1} (mean {:.1}), adapted limit mean {:.1}, adapted after \
         {adapted_after:?}, risen after {risen_after:?}; healthy p99 {:?} over {} calls, adapted \
         p99 {:?} over {} calls; goodput {goodput:.0}/s of {capacity:.0}/s (service time {:.1} ms); {} shed; limits {:?}",
        mean_limit(&limits, secs(4), halved_at),
        mean_limit(&limits, adapted_from, restored_at),
        p99(&healthy),
        healthy.len(),
        p99(&adapted),
        adapted.len(),
        service_time * 1e3,
        seen.shed,
        limits.iter().map(|(_, l)| l).collect::<Vec<_>>(),
    );
    println!("{report}");

    assert!(seen.errors.is_empty(), "{:?}\n{report}", &seen.errors[..1]);
    assert_eq!(seen.shed_without_pushback, 0, "{report}");
    assert!(
        healthy_limit >= PERMITS as f64,
        "the limit grows to the capacity: {report}"
    );
    assert!(
        adapted_after.is_some_and(|t| t <= secs(10)),
        "the limit adapts within 10 s: {report}"
    );
    assert!(
        p99(&adapted) < p99(&healthy) * 2,
        "accepted calls' p99 stays under twice the healthy p99: {report}"
    );
    assert!(
        goodput >= 0.8 * capacity,
        "goodput is at least 80% of the new capacity: {report}"
    );
    assert!(
        risen_after.is_some_and(|t| t <= secs(30)),
        "the limit rises back within 30 s: {report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_limit_sheds_exactly_at_concurrency_limit_and_never_moves() {
    const LIMIT: usize = 8;
    let mut settings = ServerSettings::default();
    settings.concurrency_limit = LIMIT;
    // Half the limit's capacity: calls queue in the handler, latency doubles,
    // and a fixed limit must not care.
    let handler = Capacity::new(LIMIT / 2);
    let (addr, stack) = serve(&settings, handler.clone()).await;
    let shed = stack.load_shed().clone();
    assert_eq!(shed.state().limit, LIMIT);
    assert!(!shed.state().adaptive);

    let channel = channel(addr).await;
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let callers = load(&channel, 24, start, &stop);
    let mut most_in_flight = 0;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let state = shed.state();
        assert_eq!(state.limit, LIMIT, "a fixed limit never moves");
        most_in_flight = most_in_flight.max(state.in_flight);
    }
    stop.store(true, Ordering::Relaxed);
    let mut seen = Seen::default();
    for caller in callers {
        seen.merge(caller.await.unwrap());
    }
    assert!(seen.errors.is_empty(), "{:?}", seen.errors);
    assert!(most_in_flight <= LIMIT, "{most_in_flight} in flight");
    assert!(seen.shed > 0 && !seen.ok.is_empty());
    assert_eq!(
        seen.shed_without_pushback, seen.shed,
        "the fixed limit sends no pushback, as before"
    );

    // (That exactly `concurrency_limit` calls of a burst are admitted is
    // `server_safety::over_the_concurrency_limit_calls_are_refused_at_once`.)
}

#[tokio::test]
async fn a_kit_client_that_retries_resource_exhausted_waits_the_servers_pushback() {
    let mut settings = ServerSettings::default();
    settings.adaptive_limit.enabled = true;
    settings.adaptive_limit.initial_limit = 1;
    settings.adaptive_limit.min_limit = 1;
    settings.adaptive_limit.retry_pushback = Duration::from_millis(300);
    let mut handler = Capacity::new(1);
    handler.service_time = Duration::from_millis(200);
    let (addr, _stack) = serve(&settings, handler).await;

    let mut client = boost_rpc::client::ClientSettings::with_endpoints([format!("http://{addr}")]);
    client.timeout = Duration::from_secs(3);
    client.retry.codes = vec!["UNAVAILABLE".into(), "RESOURCE_EXHAUSTED".into()];
    client.retry.idempotent_methods = vec!["hello.v1.Greeter/SayHello".into()];
    let client = boost_rpc::client("greeter", &client).unwrap();
    let hello = || tonic::Request::new(HelloRequest { name: "x".into() });

    // The first call holds the only slot for 200 ms.
    let mut first = GreeterClient::new(client.clone());
    let first = tokio::spawn(async move { first.say_hello(hello()).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The second is shed, waits the pushback (not its own 10 ms backoff),
    // and its retry finds the slot free.
    let started = Instant::now();
    let second = GreeterClient::new(client).say_hello(hello()).await;
    let took = started.elapsed();
    assert!(second.is_ok(), "{second:?}");
    assert!(
        took >= Duration::from_millis(300),
        "retried after {took:?}, before the pushback"
    );
    first.await.unwrap().unwrap();
}
