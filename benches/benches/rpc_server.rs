//! The boost-rpc server stack vs a raw tonic server, in the same run.
//!
//! Two Greeter servers on loopback, both with TCP_NODELAY on accepted sockets:
//! - `raw_tonic`: `Server::builder().add_service(GreeterServer)`;
//! - `boost_server`: the same under `boost_rpc::server::stack(&ServerSettings::default())`
//!   (request id, server span, metrics, load shed, deadline, panic catch, size
//!   limit), with the boost-metrics recorder installed so metrics are really
//!   recorded. No tracing subscriber is installed (spans are disabled, as with
//!   a filter that leaves `rpc.server` off).
//!
//! Groups (raw client against both servers):
//! - `rpc_server_sequential`: one call at a time (target p50 ≤ 1.05× raw);
//! - `rpc_server_concurrent64`: 64 tasks in flight, time per call.
//!
//! And the full pair — boost client + boost server vs raw client + raw server:
//! - `rpc_pair_sequential`: target p50 ≤ 1.10× raw (plus `boost_client_raw_server`,
//!   the boost client against the raw server, to tell the two sides' shares apart);
//! - `rpc_pair_concurrent64`: time per call, target ≤ 1.11× raw (throughput ≥ 0.90×).
//!
//! Criterion's back-to-back groups swing ±2× on a shared machine, so the bench
//! first prints alternating measurements that put load on both sides alike:
//! `INTERLEAVED … p50` (40 alternating rounds of 250 sequential calls) and
//! `INTERLEAVED …, 64 in flight` (20 alternating rounds of 2,000 calls; the
//! median of the per-round time ratios), for the server, the pair, and the
//! boost client alone against the raw server (the client's share of the pair).
//!
//! Run: `cargo bench -p boost-benches --bench rpc_server -- --warm-up-time 1 --measurement-time 3`
//! (only the alternating lines: add `-- nomatch` instead of the criterion flags).
//! Where the server gap comes from (settings vs layers): `RPC_SERVER_SPLIT=1 cargo bench -p boost-benches --bench rpc_server -- nomatch`
//! Syscalls or instructions per call, one server at a time:
//! `RPC_SERVER_DRIVE=raw|boost RPC_SERVER_CALLS=20000 strace -f -c <bench binary>`, or with
//! `RPC_SERVER_RT=current` (one thread) under `valgrind --tool=callgrind`;
//! `RPC_SERVER_IN_FLIGHT=1` makes those calls 64 at a time, as the throughput
//! group does. Instructions per call without start-up costs: run two call
//! counts with `--toggle-collect='*Runtime::block_on*'` and divide the
//! difference by the difference in calls. The stack alone, no network, with the
//! fixed or the adaptive concurrency limit: `RPC_SERVER_DRIVE=layers` or
//! `layers_adaptive` (with `RPC_SERVER_RT=current`, the same way).
//! `RPC_BENCH_WORKERS=1` runs everything on one runtime thread (default 2):
//! the same ratios then show that cross-core contention is not the gap.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use boost_benches::Transport;
use boost_config::ServiceIdentity;
use boost_metrics::MetricsSettings;
use boost_rpc::client::ClientSettings;
use boost_rpc::server::{self, ServerSettings};
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use criterion::{Criterion, criterion_group};
use tokio::runtime::Runtime;
use tonic::transport::Channel;
use tonic::transport::server::TcpIncoming;

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

/// Client and server share one runtime of `RPC_BENCH_WORKERS` (default 2)
/// threads: with 1, no atomic is contended between cores.
fn runtime() -> Runtime {
    let workers = std::env::var("RPC_BENCH_WORKERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
}

async fn listener() -> (TcpIncoming, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    (TcpIncoming::from(listener).with_nodelay(Some(true)), addr)
}

async fn serve_raw() -> SocketAddr {
    let (incoming, addr) = listener().await;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(GreeterServer::new(Hello))
            .serve_with_incoming(incoming),
    );
    addr
}

async fn serve_boost() -> SocketAddr {
    let (incoming, addr) = listener().await;
    let settings = ServerSettings::default();
    tokio::spawn(
        settings
            .apply(tonic::transport::Server::builder())
            .layer(server::stack(&settings))
            .add_service(GreeterServer::new(Hello))
            .serve_with_incoming(incoming),
    );
    addr
}

async fn raw_client(addr: SocketAddr) -> GreeterClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("url")
        .tcp_nodelay(true)
        .connect()
        .await
        .expect("connect");
    GreeterClient::new(channel)
}

fn request() -> HelloRequest {
    HelloRequest {
        name: "bench".into(),
    }
}

/// Appends the latency of `n` sequential calls to `out`.
async fn sample<T: Transport>(client: &GreeterClient<T>, n: usize, out: &mut Vec<Duration>) {
    for _ in 0..n {
        let mut client = client.clone();
        let start = Instant::now();
        black_box(client.say_hello(request()).await.expect("call"));
        out.push(start.elapsed());
    }
}

/// The calls of [`drive`]: sequential, or with `RPC_SERVER_IN_FLIGHT=1`
/// as the throughput benchmark makes them ([`CONCURRENCY`] in flight; no
/// latencies then).
async fn drive_calls<T: Transport>(client: &GreeterClient<T>, n: usize, out: &mut Vec<Duration>) {
    if std::env::var_os("RPC_SERVER_IN_FLIGHT").is_some() {
        let took = concurrent(client.clone(), n as u64).await;
        out.push(took / n as u32);
    } else {
        sample(client, n, out).await;
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

/// Per-call p50/p99 of two clients measured in alternating rounds, so that
/// load from other processes on the machine hits both alike.
async fn interleaved<A: Transport, B: Transport>(
    label: &str,
    raw: &GreeterClient<A>,
    ours: &GreeterClient<B>,
) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..40 {
        if round % 2 == 0 {
            sample(raw, 250, &mut a).await;
            sample(ours, 250, &mut b).await;
        } else {
            sample(ours, 250, &mut b).await;
            sample(raw, 250, &mut a).await;
        }
    }
    let (a50, b50) = (percentile(&mut a, 0.5), percentile(&mut b, 0.5));
    let (a99, b99) = (percentile(&mut a, 0.99), percentile(&mut b, 0.99));
    eprintln!(
        "INTERLEAVED {label}: p50 ours {b50:?} / raw {a50:?} = {:.3}x; p99 ours {b99:?} / raw {a99:?} = {:.3}x ({} calls each)",
        b50.as_secs_f64() / a50.as_secs_f64(),
        b99.as_secs_f64() / a99.as_secs_f64(),
        a.len()
    );
}

/// Throughput with `CONCURRENCY` calls in flight, measured in alternating
/// rounds (raw, ours, ours, raw, …) so that load from other processes hits both
/// alike; prints the median of the per-round-pair time ratios (ours / raw).
async fn interleaved_concurrent<A: Transport, B: Transport>(
    label: &str,
    raw: &GreeterClient<A>,
    ours: &GreeterClient<B>,
) {
    const CALLS: u64 = 2_000;
    let (mut raw_total, mut ours_total) = (Duration::ZERO, Duration::ZERO);
    let mut ratios = Vec::new();
    for round in 0..20 {
        let (r, o) = if round % 2 == 0 {
            let r = concurrent(raw.clone(), CALLS).await;
            (r, concurrent(ours.clone(), CALLS).await)
        } else {
            let o = concurrent(ours.clone(), CALLS).await;
            (concurrent(raw.clone(), CALLS).await, o)
        };
        raw_total += r;
        ours_total += o;
        ratios.push(o.as_secs_f64() / r.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let per_call = |total: Duration| total / (20 * CALLS as u32);
    eprintln!(
        "INTERLEAVED {label}, {CONCURRENCY} in flight: time per call ours {:?} / raw {:?}; median round ratio {median:.3}x -> throughput {:.3}x (20 rounds of {CALLS} calls each)",
        per_call(ours_total),
        per_call(raw_total),
        1.0 / median
    );
}

/// Time per call with `CONCURRENCY` tasks sharing `iters` calls.
async fn concurrent<T: Transport>(client: GreeterClient<T>, iters: u64) -> Duration {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CONCURRENCY {
        let mut client = client.clone();
        let n = iters / CONCURRENCY + u64::from(worker < iters % CONCURRENCY);
        tasks.push(tokio::spawn(async move {
            for _ in 0..n {
                black_box(client.say_hello(request()).await.expect("call"));
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    start.elapsed()
}

mod layers {
    use http_body_util::BodyExt;
    use std::hint::black_box;
    use tower::{Service, ServiceExt};
    pub(crate) fn handler<B>(
        _req: http::Request<B>,
    ) -> std::future::Ready<Result<http::Response<tonic::body::Body>, std::convert::Infallible>>
    {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let body = http_body_util::Empty::<tonic::codegen::Bytes>::new()
            .with_trailers(std::future::ready(Some(Ok(trailers))));
        let mut res = http::Response::new(tonic::body::Body::new(body));
        res.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("application/grpc"),
        );
        std::future::ready(Ok(res))
    }
    fn req() -> http::Request<tonic::body::Body> {
        http::Request::post("/hello.v1.Greeter/SayHello")
            .header("content-type", "application/grpc")
            .body(tonic::body::Body::empty())
            .expect("request")
    }
    pub(crate) async fn call<S, B>(svc: &mut S)
    where
        S: Service<http::Request<tonic::body::Body>, Response = http::Response<B>>,
        S::Error: std::fmt::Debug,
        B: tonic::codegen::Body,
        B::Error: std::fmt::Debug,
    {
        let res = svc
            .ready()
            .await
            .expect("ready")
            .call(req())
            .await
            .expect("call");
        black_box(res.into_body().collect().await.expect("body"));
    }
}

/// The stack alone, no network: a service answering `grpc-status: 0` in the
/// trailers, called and its body read to the end, bare vs under the stack.
fn stack_only(c: &mut Criterion, rt: &Runtime) {
    use layers::{call, handler};
    use tower::Layer;

    let raw = tower::service_fn(handler);
    let ours = server::stack(&ServerSettings::default()).layer(tower::service_fn(handler));
    let mut group = c.benchmark_group("rpc_server_stack_only");
    group.bench_function("bare", |b| {
        b.to_async(rt).iter(|| {
            let mut svc = raw;
            async move { call(&mut svc).await }
        })
    });
    group.bench_function("boost_stack", |b| {
        b.to_async(rt).iter(|| {
            let mut svc = ours.clone();
            async move { call(&mut svc).await }
        })
    });
    // The adaptive concurrency limit: two clock reads and an atomic add more.
    let mut adaptive = ServerSettings::default();
    adaptive.adaptive_limit.enabled = true;
    let adaptive = server::stack(&adaptive).layer(tower::service_fn(handler));
    group.bench_function("boost_stack_adaptive_limit", |b| {
        b.to_async(rt).iter(|| {
            let mut svc = adaptive.clone();
            async move { call(&mut svc).await }
        })
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let identity = ServiceIdentity::new("bench", "0.0.0");
    let _metrics = boost_metrics::install(&MetricsSettings::default(), &identity).expect("metrics");
    let (raw, boost_server, boost_pair, boost_client) = rt.block_on(async {
        let raw_addr = serve_raw().await;
        let boost_addr = serve_boost().await;
        let raw = raw_client(raw_addr).await;
        let boost_server = raw_client(boost_addr).await;
        let mut settings = ClientSettings::with_endpoints([format!("http://{boost_addr}")]);
        settings.retry.idempotent_methods = vec!["hello.v1.Greeter/SayHello".into()];
        let boost_pair = GreeterClient::new(boost_rpc::client("bench", &settings).expect("client"));
        let mut settings = ClientSettings::with_endpoints([format!("http://{raw_addr}")]);
        settings.retry.idempotent_methods = vec!["hello.v1.Greeter/SayHello".into()];
        let boost_client =
            GreeterClient::new(boost_rpc::client("bench-raw", &settings).expect("client"));
        boost_client
            .clone()
            .say_hello(request())
            .await
            .expect("client warm");
        // Connect all before measuring.
        raw.clone().say_hello(request()).await.expect("raw warm");
        boost_server
            .clone()
            .say_hello(request())
            .await
            .expect("server warm");
        boost_pair
            .clone()
            .say_hello(request())
            .await
            .expect("pair warm");
        (raw, boost_server, boost_pair, boost_client)
    });
    stack_only(c, &rt);
    rt.block_on(async {
        interleaved("server (raw client)", &raw, &boost_server).await;
        interleaved("pair (boost client + boost server)", &raw, &boost_pair).await;
        // Diagnostic: the boost client against the raw server (the client's share).
        interleaved(
            "client only (boost client + raw server)",
            &raw,
            &boost_client,
        )
        .await;
        interleaved_concurrent("server (raw client)", &raw, &boost_server).await;
        interleaved_concurrent("pair (boost client + boost server)", &raw, &boost_pair).await;
        interleaved_concurrent(
            "client only (boost client + raw server)",
            &raw,
            &boost_client,
        )
        .await;
        if std::env::var_os("RPC_SERVER_SPLIT").is_some() {
            // Where the server's gap comes from: the connection settings
            // (`ServerSettings::apply`) vs the layers (`server::stack`).
            let settings = ServerSettings::default();
            let (incoming, addr) = listener().await;
            tokio::spawn(
                settings
                    .apply(tonic::transport::Server::builder())
                    .add_service(GreeterServer::new(Hello))
                    .serve_with_incoming(incoming),
            );
            let apply_only = raw_client(addr).await;
            interleaved("SPLIT settings.apply only", &raw, &apply_only).await;
            let (incoming, addr) = listener().await;
            tokio::spawn(
                tonic::transport::Server::builder()
                    .layer(server::stack(&settings))
                    .add_service(GreeterServer::new(Hello))
                    .serve_with_incoming(incoming),
            );
            let stack_only = raw_client(addr).await;
            interleaved("SPLIT server::stack only", &raw, &stack_only).await;
        }
    });

    let mut group = c.benchmark_group("rpc_server_sequential");
    group.bench_function("raw_tonic", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(raw.clone().say_hello(request()).await.expect("raw")) })
    });
    group.bench_function("boost_server", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                boost_server
                    .clone()
                    .say_hello(request())
                    .await
                    .expect("ours"),
            )
        })
    });
    group.finish();

    let mut group = c.benchmark_group("rpc_server_concurrent64");
    group.bench_function("raw_tonic", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| concurrent(raw.clone(), iters))
    });
    group.bench_function("boost_server", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| concurrent(boost_server.clone(), iters))
    });
    group.finish();

    let mut group = c.benchmark_group("rpc_pair_sequential");
    group.bench_function("raw_tonic", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(raw.clone().say_hello(request()).await.expect("raw")) })
    });
    group.bench_function("boost_pair", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(boost_pair.clone().say_hello(request()).await.expect("ours"))
        })
    });
    // Diagnostic: the boost client against the raw server (the client's share).
    group.bench_function("boost_client_raw_server", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                boost_client
                    .clone()
                    .say_hello(request())
                    .await
                    .expect("client"),
            )
        })
    });
    group.finish();

    let mut group = c.benchmark_group("rpc_pair_concurrent64");
    group.bench_function("raw_tonic", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| concurrent(raw.clone(), iters))
    });
    group.bench_function("boost_pair", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| concurrent(boost_pair.clone(), iters))
    });
    group.finish();
}

/// Diagnostic driver for `strace -f -c` / callgrind:
/// `RPC_SERVER_DRIVE=raw|boost|apply|stack|pair|client|layers|layers_adaptive`
/// (`layers`: the stack alone, no network, as `rpc_server_stack_only`;
/// `layers_adaptive`: the same with the adaptive concurrency limit)
/// (and `RPC_SERVER_CALLS`, default 20000) makes exactly that many sequential
/// calls against one server (only that server runs) and exits, so syscall and
/// instruction counts per call can be compared. `RPC_SERVER_RT=current` runs
/// client and server on one thread (deterministic instruction counts).
fn drive(which: &str) {
    let calls: usize = std::env::var("RPC_SERVER_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let rt = if std::env::var("RPC_SERVER_RT").is_ok_and(|v| v == "current") {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    } else {
        runtime()
    };
    let identity = ServiceIdentity::new("bench", "0.0.0");
    let _metrics = boost_metrics::install(&MetricsSettings::default(), &identity).expect("metrics");
    rt.block_on(async {
        let mut out = Vec::with_capacity(calls);
        match which {
            "raw" => {
                let client = raw_client(serve_raw().await).await;
                client.clone().say_hello(request()).await.expect("warm");
                drive_calls(&client, calls, &mut out).await;
            }
            "boost" => {
                let client = raw_client(serve_boost().await).await;
                client.clone().say_hello(request()).await.expect("warm");
                drive_calls(&client, calls, &mut out).await;
            }
            "apply" | "stack" => {
                // The two halves of `serve_boost`: settings only, layers only.
                let settings = ServerSettings::default();
                let (incoming, addr) = listener().await;
                let mut builder = if which == "apply" {
                    settings.apply(tonic::transport::Server::builder())
                } else {
                    tonic::transport::Server::builder()
                };
                if which == "apply" {
                    tokio::spawn(
                        builder
                            .add_service(GreeterServer::new(Hello))
                            .serve_with_incoming(incoming),
                    );
                } else {
                    tokio::spawn(
                        builder
                            .layer(server::stack(&settings))
                            .add_service(GreeterServer::new(Hello))
                            .serve_with_incoming(incoming),
                    );
                }
                let client = raw_client(addr).await;
                client.clone().say_hello(request()).await.expect("warm");
                drive_calls(&client, calls, &mut out).await;
            }
            "layers" | "layers_adaptive" => {
                use tower::Layer;
                let mut settings = ServerSettings::default();
                settings.adaptive_limit.enabled = which == "layers_adaptive";
                let svc = server::stack(&settings).layer(tower::service_fn(layers::handler));
                for _ in 0..calls {
                    layers::call(&mut svc.clone()).await;
                }
                out.push(std::time::Duration::ZERO);
            }
            "pair" | "client" => {
                // `client`: the boost client against the raw server.
                let addr = if which == "pair" {
                    serve_boost().await
                } else {
                    serve_raw().await
                };
                let mut settings = ClientSettings::with_endpoints([format!("http://{addr}")]);
                settings.retry.idempotent_methods = vec!["hello.v1.Greeter/SayHello".into()];
                // Under valgrind the first call (the connect) outlasts the 300 ms default.
                settings.timeout = std::time::Duration::from_secs(30);
                let client =
                    GreeterClient::new(boost_rpc::client("bench", &settings).expect("client"));
                client.clone().say_hello(request()).await.expect("warm");
                drive_calls(&client, calls, &mut out).await;
            }
            other => panic!(
                "RPC_SERVER_DRIVE={other}: expected raw, boost, apply, stack, pair, client, layers \
                 or layers_adaptive"
            ),
        }
        let p50 = percentile(&mut out, 0.5);
        eprintln!("DRIVE {which}: {calls} calls, p50 {p50:?}");
    });
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(which) = std::env::var("RPC_SERVER_DRIVE") {
        drive(&which);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    for group in ["rpc_server_sequential", "rpc_server_concurrent64"] {
        boost_benches::report_ratio(group, "raw_tonic", "boost_server");
    }
    boost_benches::report_ratio("rpc_server_stack_only", "bare", "boost_stack");
    for group in ["rpc_pair_sequential", "rpc_pair_concurrent64"] {
        boost_benches::report_ratio(group, "raw_tonic", "boost_pair");
    }
}
