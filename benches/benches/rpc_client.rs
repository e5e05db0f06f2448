//! The boost-rpc client stack vs a raw tonic `Channel`, in the same run.
//!
//! One plain tonic Greeter server on loopback (TCP_NODELAY on accepted
//! sockets). Two clients call `SayHello`:
//! - `raw_tonic`: `GreeterClient<Channel>` over one `Endpoint::connect()`ed
//!   channel with `tcp_nodelay(true)`;
//! - `boost_client`: `GreeterClient<boost_rpc::client::Client>` with every
//!   layer on (observe + deadline + concurrency limit + retry with body
//!   buffering, SayHello marked idempotent + P2C/Peak-EWMA + ejection), and the
//!   boost-metrics recorder installed so metrics are really recorded. No
//!   tracing subscriber is installed (spans are disabled, as with a filter that
//!   leaves `rpc.client` off).
//!
//! Groups:
//! - `rpc_client_sequential`: one call at a time (latency; target p50 ≤ 1.10× raw);
//! - `rpc_client_concurrent64`: 64 tasks in flight, time per call (target
//!   throughput ≥ 0.90× raw, i.e. time per call ≤ 1.11× raw).
//!
//! After criterion, `main` also measures the three clients in rotating
//! batches (`PAIRED` lines): load from other processes then hits each alike,
//! which criterion's back-to-back runs do not guarantee on a shared machine.
//! `raw_tonic+grpc-timeout` shows what sending a deadline costs by itself.
//!
//! Run: `cargo bench -p boost-benches --bench rpc_client -- --warm-up-time 1 --measurement-time 3`
//! Per-layer breakdown: `RPC_CLIENT_LAYERS=1 cargo bench -p boost-benches --bench rpc_client`

use std::future::Future;
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use boost_config::ServiceIdentity;
use boost_metrics::MetricsSettings;
use boost_rpc::client::ClientSettings;
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use criterion::{Criterion, criterion_group};
use tokio::runtime::Runtime;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;

const CONCURRENCY: u64 = 64;

struct Hello;

#[tonic::async_trait]
impl Greeter for Hello {
    async fn say_hello(
        &self,
        request: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
        Ok(tonic::Response::new(HelloReply {
            message: request.into_inner().name,
        }))
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

async fn serve() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let incoming = TcpListenerStream::new(listener).map(|s| {
        let s = s?;
        s.set_nodelay(true)?;
        Ok::<_, std::io::Error>(s)
    });
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(GreeterServer::new(Hello))
            .serve_with_incoming(incoming),
    );
    addr
}

fn request() -> HelloRequest {
    HelloRequest {
        name: "bench".into(),
    }
}

/// Total time for `iters` calls made by `CONCURRENCY` tasks, each running `call`.
async fn concurrent<F, Fut>(iters: u64, call: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CONCURRENCY {
        let call = call.clone();
        let n = iters / CONCURRENCY + u64::from(worker < iters % CONCURRENCY);
        tasks.push(tokio::spawn(async move {
            for _ in 0..n {
                call().await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    start.elapsed()
}

type Clients = (
    GreeterClient<Channel>,
    GreeterClient<boost_rpc::client::Client>,
);

/// The server and both clients, connected.
fn setup(rt: &Runtime) -> Clients {
    rt.block_on(async {
        let addr = serve().await;
        let url = format!("http://{addr}");
        let channel: Channel = tonic::transport::Endpoint::from_shared(url.clone())
            .expect("url")
            .tcp_nodelay(true)
            .connect()
            .await
            .expect("connect");
        let mut settings = ClientSettings::with_endpoints([url]);
        settings.retry.idempotent_methods = vec!["hello.v1.Greeter/SayHello".into()];
        let client = boost_rpc::client("bench", &settings).expect("client");
        let raw = GreeterClient::new(channel);
        let ours = GreeterClient::new(client);
        // Connect both before measuring.
        raw.clone().say_hello(request()).await.expect("raw warm");
        ours.clone().say_hello(request()).await.expect("ours warm");
        (raw, ours)
    })
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let (raw, ours) = setup(&rt);

    let mut group = c.benchmark_group("rpc_client_sequential");
    group.bench_function("raw_tonic", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(raw.clone().say_hello(request()).await.expect("raw")) })
    });
    group.bench_function("boost_client", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(ours.clone().say_hello(request()).await.expect("ours")) })
    });
    group.finish();

    let mut group = c.benchmark_group("rpc_client_concurrent64");
    group.bench_function("raw_tonic", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let raw = raw.clone();
            concurrent(iters, move || {
                let mut client = raw.clone();
                async move {
                    black_box(client.say_hello(request()).await.expect("raw"));
                }
            })
        })
    });
    group.bench_function("boost_client", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let ours = ours.clone();
            concurrent(iters, move || {
                let mut client = ours.clone();
                async move {
                    black_box(client.say_hello(request()).await.expect("ours"));
                }
            })
        })
    });
    group.finish();
}

/// One call of each variant: 0 = raw, 1 = ours, 2 = raw with a 300 ms
/// `grpc-timeout` (what a deadline costs by itself, client and server side).
async fn call_variant(
    which: usize,
    raw: &GreeterClient<Channel>,
    ours: &GreeterClient<boost_rpc::client::Client>,
) {
    match which {
        0 => {
            black_box(raw.clone().say_hello(request()).await.expect("raw"));
        }
        1 => {
            black_box(ours.clone().say_hello(request()).await.expect("ours"));
        }
        _ => {
            let mut r = tonic::Request::new(request());
            r.set_timeout(Duration::from_millis(300));
            black_box(raw.clone().say_hello(r).await.expect("raw+timeout"));
        }
    }
}

/// Raw and ours measured in alternating batches, so load from other processes
/// hits both alike; prints the median time per call of each and the ratio.
fn paired(rt: &Runtime, (raw, ours): &Clients) {
    // More rounds (`RPC_CLIENT_ROUNDS`) narrow the spread on a noisy machine.
    let rounds: usize = std::env::var("RPC_CLIENT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    const VARIANTS: usize = 3;
    let mut seq: [Vec<f64>; VARIANTS] = Default::default();
    let mut conc: [Vec<f64>; VARIANTS] = Default::default();
    for round in 0..rounds {
        for k in 0..VARIANTS {
            let which = (round + k) % VARIANTS;
            rt.block_on(async {
                let n = 1000u64;
                let start = Instant::now();
                for _ in 0..n {
                    call_variant(which, raw, ours).await;
                }
                seq[which].push(start.elapsed().as_nanos() as f64 / n as f64);

                let n = 6400u64;
                let (raw, ours) = (raw.clone(), ours.clone());
                let elapsed = concurrent(n, move || {
                    let (raw, ours) = (raw.clone(), ours.clone());
                    async move { call_variant(which, &raw, &ours).await }
                })
                .await;
                conc[which].push(elapsed.as_nanos() as f64 / n as f64);
            });
        }
    }
    for (name, v) in [("sequential", seq), ("concurrent64", conc)] {
        // Also the median of each round's own ratio: robust to the machine
        // changing speed between rounds.
        let per_round: Vec<f64> = v[1].iter().zip(&v[0]).map(|(o, r)| o / r).collect();
        let per_round = median(per_round);
        let [r, o, t] = v.map(median);
        eprintln!(
            "PAIRED rpc_client_{name}: boost_client {o:.0} ns / raw_tonic {r:.0} ns = {:.3}x \
             (per-round median {per_round:.3}x); raw_tonic+grpc-timeout {t:.0} ns = {:.3}x \
             (medians of {rounds} rotating batches)",
            o / r,
            t / r
        );
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

criterion_group!(benches, bench);

fn main() {
    let identity = ServiceIdentity::new("bench", "0.0.0");
    let _metrics = boost_metrics::install(&MetricsSettings::default(), &identity).expect("metrics");
    if std::env::var_os("RPC_CLIENT_LAYERS").is_some() {
        layers();
        return;
    }
    benches();
    let rt = runtime();
    paired(&rt, &setup(&rt));
    Criterion::default().configure_from_args().final_summary();
    for group in ["rpc_client_sequential", "rpc_client_concurrent64"] {
        boost_benches::report_ratio(group, "raw_tonic", "boost_client");
    }
}

// ---- Per-layer breakdown (RPC_CLIENT_LAYERS=1) ----

/// Any client stack behind one type, so variants can share the measuring loop.
type Boxed = tower::util::BoxCloneService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    tonic::Status,
>;

/// Boxes a service for [`layers`] (a `tonic::body::Body` response body is
/// kept as is; another body type is boxed into one).
fn boxed<S, B>(s: S) -> Boxed
where
    S: tower::Service<http::Request<tonic::body::Body>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send + 'static,
    B: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use tower::ServiceExt;
    Boxed::new(
        s.map_response(|r| r.map(tonic::body::Body::new))
            .map_err(|e| tonic::Status::from_error(e.into())),
    )
}

/// The time `calls` calls of `call` take, one at a time or 64 in flight.
fn time_calls<F, Fut>(rt: &Runtime, calls: u64, sequential: bool, call: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    if sequential {
        rt.block_on(async move {
            let start = Instant::now();
            for _ in 0..calls {
                call().await;
            }
            start.elapsed()
        })
    } else {
        rt.block_on(concurrent(calls, call))
    }
}

/// Time per call with 64 in flight for each layer alone over the balancer
/// (rotating batches, median of 9): where the stack's overhead goes.
fn layers() {
    use boost_rpc::client::deadline::DeadlineLayer;
    use boost_rpc::client::limit::ConcurrencyLimitLayer;
    use boost_rpc::client::observe::ObserveLayer;
    use boost_rpc::client::retry::RetryLayer;
    use tower::Layer;
    let rt = runtime();
    let calls: u64 = std::env::var("RPC_CLIENT_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64_000);
    let sequential = std::env::var_os("RPC_CLIENT_SEQUENTIAL").is_some();
    let mode = if sequential {
        "sequential"
    } else {
        "concurrent64"
    };
    if let Ok(only) = std::env::var("RPC_CLIENT_LAYERS")
        && (only == "raw_plain" || only == "full_plain")
    {
        let (raw, ours) = setup(&rt);
        // The main bench's own (unboxed) clients alone.
        let el = if only == "raw_plain" {
            time_calls(&rt, calls, sequential, move || {
                let mut c = raw.clone();
                async move {
                    black_box(c.say_hello(request()).await.expect("x"));
                }
            })
        } else {
            time_calls(&rt, calls, sequential, move || {
                let mut c = ours.clone();
                async move {
                    black_box(c.say_hello(request()).await.expect("x"));
                }
            })
        };
        eprintln!(
            "LAYERS {mode} {only} alone: {:.0} ns per call",
            el.as_nanos() as f64 / calls as f64
        );
        return;
    }
    let variants: Vec<(&str, GreeterClient<Boxed>)> = rt.block_on(async {
        let addr = serve().await;
        let url = format!("http://{addr}");
        let mut settings = ClientSettings::with_endpoints([url.clone()]);
        settings.retry.idempotent_methods = vec!["hello.v1.Greeter/SayHello".into()];
        let raw = tonic::transport::Endpoint::from_shared(url.clone())
            .unwrap()
            .tcp_nodelay(true)
            .connect()
            .await
            .unwrap();
        let ch = tonic::transport::Endpoint::from_shared(url.clone())
            .unwrap()
            .tcp_nodelay(true)
            .connect_lazy();
        // The endpoint and balancer the client builds (feature `bench`).
        let (eject, bal) = boost_rpc::bench::endpoint("exp", &settings, "x", ch);
        let retry = RetryLayer::new("exp", &settings.retry)
            .unwrap()
            .layer(bal.clone());
        let v = vec![
            ("raw", boxed(raw)),
            ("eject", boxed(eject)),
            ("balance", boxed(bal.clone())),
            ("retry", boxed(retry.clone())),
            (
                "deadline",
                boxed(DeadlineLayer::new(settings.timeout).layer(bal.clone())),
            ),
            (
                "limit",
                boxed(
                    ConcurrencyLimitLayer::new(1024, Duration::from_millis(10)).layer(bal.clone()),
                ),
            ),
            (
                "observe",
                boxed(ObserveLayer::new("exp").layer(bal.clone())),
            ),
            (
                "full",
                boxed(boost_rpc::client("bench", &settings).unwrap()),
            ),
        ];
        let v: Vec<_> = v
            .into_iter()
            .map(|(n, s)| (n, GreeterClient::new(s)))
            .collect();
        for (_, c) in &v {
            c.clone().say_hello(request()).await.unwrap();
        }
        v
    });
    if let Ok(only) = std::env::var("RPC_CLIENT_LAYERS")
        && let Some((_, c)) = variants
            .iter()
            .find(|(n, _)| *n == only || (only == "raw_timeout" && *n == "raw"))
    {
        // `raw_timeout`: the raw channel with a 300 ms `grpc-timeout` per call.
        let timeout = (only == "raw_timeout").then_some(Duration::from_millis(300));
        let request = move || {
            let mut r = tonic::Request::new(request());
            if let Some(t) = timeout {
                r.set_timeout(t);
            }
            r
        };
        // One variant alone, e.g. under `perf stat`, `strace -c` or callgrind:
        // `RPC_CLIENT_CALLS` calls (default 64000), 64 in flight, or one at a
        // time with `RPC_CLIENT_SEQUENTIAL=1`.
        let c = c.clone();
        let el = time_calls(&rt, calls, sequential, move || {
            let mut c = c.clone();
            async move {
                black_box(c.say_hello(request()).await.expect("x"));
            }
        });
        eprintln!(
            "LAYERS {mode} {only} alone: {:.0} ns per call",
            el.as_nanos() as f64 / calls as f64
        );
        return;
    }
    let mut res: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 0..9 {
        for k in 0..variants.len() {
            let i = (round + k) % variants.len();
            let c = variants[i].1.clone();
            let el = rt.block_on(concurrent(6400, move || {
                let mut c = c.clone();
                async move {
                    black_box(c.say_hello(request()).await.expect("x"));
                }
            }));
            res[i].push(el.as_nanos() as f64 / 6400.0);
        }
    }
    for (i, (n, _)) in variants.iter().enumerate() {
        eprintln!(
            "LAYERS concurrent64 {n}: {:.0} ns per call",
            median(res[i].clone())
        );
    }
}
