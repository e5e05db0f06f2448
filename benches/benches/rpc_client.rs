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
//! Run: `cargo bench -p boost-benches --bench rpc_client -- --warm-up-time 1 --measurement-time 3`

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
        let _ = URL.set(url.clone());
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

/// Raw and ours measured in alternating batches, so load from other processes
/// hits both alike; prints the median time per call of each and the ratio.
fn paired(rt: &Runtime, (raw, ours): &Clients) {
    const ROUNDS: usize = 15;
    let mut seq = (Vec::new(), Vec::new());
    let mut conc = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for which in [round % 2, 1 - round % 2] {
            rt.block_on(async {
                let n = 1000u64;
                let start = Instant::now();
                for _ in 0..n {
                    if which == 0 {
                        black_box(raw.clone().say_hello(request()).await.expect("raw"));
                    } else {
                        black_box(ours.clone().say_hello(request()).await.expect("ours"));
                    }
                }
                let per_call = start.elapsed().as_nanos() as f64 / n as f64;
                if which == 0 {
                    seq.0.push(per_call)
                } else {
                    seq.1.push(per_call)
                }

                let n = 6400u64;
                let elapsed = if which == 0 {
                    let c = raw.clone();
                    concurrent(n, move || {
                        let mut c = c.clone();
                        async move {
                            black_box(c.say_hello(request()).await.expect("raw"));
                        }
                    })
                    .await
                } else {
                    let c = ours.clone();
                    concurrent(n, move || {
                        let mut c = c.clone();
                        async move {
                            black_box(c.say_hello(request()).await.expect("ours"));
                        }
                    })
                    .await
                };
                let per_call = elapsed.as_nanos() as f64 / n as f64;
                if which == 0 {
                    conc.0.push(per_call)
                } else {
                    conc.1.push(per_call)
                }
            });
        }
    }
    for (name, (r, o)) in [("sequential", seq), ("concurrent64", conc)] {
        let (r, o) = (median(r), median(o));
        eprintln!(
            "PAIRED rpc_client_{name}: boost_client {o:.0} ns / raw_tonic {r:.0} ns = {:.3}x (median of {ROUNDS} alternating batches)",
            o / r
        );
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

criterion_group!(benches, bench);

static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
fn ours_url() -> String { URL.get().cloned().unwrap() }

fn main() {
    if std::env::var("EXP").is_ok() {
        let identity = ServiceIdentity::new("bench", "0.0.0");
        let _metrics = boost_metrics::install(&MetricsSettings::default(), &identity).expect("metrics");
        let rt = runtime();
        let clients = setup(&rt);
        experiment(&rt, &clients);
        return;
    }
    let identity = ServiceIdentity::new("bench", "0.0.0");
    let _metrics = boost_metrics::install(&MetricsSettings::default(), &identity).expect("metrics");
    benches();
    let rt = runtime();
    paired(&rt, &setup(&rt));
    Criterion::default().configure_from_args().final_summary();
    for group in ["rpc_client_sequential", "rpc_client_concurrent64"] {
        boost_benches::report_ratio(group, "raw_tonic", "boost_client");
    }
}

// ---- EXPERIMENT (temporary) ----
fn cpu_ns() -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir("/proc/self/task").unwrap() {
        let p = e.unwrap().path().join("schedstat");
        if let Ok(t) = std::fs::read_to_string(p) {
            total += t.split_whitespace().next().unwrap().parse::<u64>().unwrap();
        }
    }
    total
}
macro_rules! seq_batch {
    ($rt:expr, $client:expr, $n:expr) => {{
        let c = $client.clone();
        $rt.block_on(async move {
            let start = cpu_ns();
            for _ in 0..$n {
                black_box(c.clone().say_hello(request()).await.expect("x"));
            }
            (cpu_ns() - start) as f64 / $n as f64
        })
    }};
}

fn experiment(rt: &Runtime, (raw, ours): &Clients) {
    use boost_rpc::client::balance::{Balance, EndpointSet};
    use boost_rpc::client::deadline::DeadlineLayer;
    use boost_rpc::client::eject::{Eject, Health};
    use boost_rpc::client::observe::ObserveLayer;
    use boost_rpc::client::retry::RetryLayer;
    use boost_rpc::client::limit::ConcurrencyLimitLayer;
    use boost_rpc::client::ClientMetrics;
    use std::sync::Arc;
    use tower::Layer;
    let url = ours_url();
    let settings = { let mut s = ClientSettings::with_endpoints([url.clone()]); s.retry.idempotent_methods = vec!["hello.v1.Greeter/SayHello".into()]; s };
    let (bal, eject_only, dl, rt_) = rt.block_on(async {
        let metrics = ClientMetrics::new("exp");
        let ch = tonic::transport::Endpoint::from_shared(url.clone()).unwrap().tcp_nodelay(true).connect_lazy();
        let health = Arc::new(Health::new(settings.ejection.clone(), settings.reconnect.clone(), Some(metrics.endpoint("x"))));
        let eject = Eject::new(ch, health.clone());
        let set = EndpointSet::new("exp", &settings.balance, 50);
        set.insert("x".into(), eject.clone(), Some(health));
        set.mark_resolved(None);
        let bal = Balance::new(set);
        let retry = RetryLayer::from_settings(&settings.retry, metrics.clone()).unwrap().layer(bal.clone());
        let dl = DeadlineLayer::new(settings.timeout).layer(retry.clone());
        let lim = ConcurrencyLimitLayer::new(1024, Duration::from_millis(10)).layer(retry.clone());
        let obs = ObserveLayer::new(metrics.clone()).layer(retry.clone());
        (GreeterClient::new(lim), GreeterClient::new(eject), GreeterClient::new(dl), GreeterClient::new(obs))
    });
    for _ in 0..3 {
        let r = seq_batch!(rt, raw, 2000);
        let e = seq_batch!(rt, eject_only, 2000);
        let b = seq_batch!(rt, bal, 2000);
        let re = seq_batch!(rt, rt_, 2000);
        let d = seq_batch!(rt, dl, 2000);
        let o = seq_batch!(rt, ours, 2000);
        eprintln!("EXP raw {r:.0} eject {e:.0} retry+limit {b:.0} retry+observe {re:.0} retry+deadline {d:.0} full {o:.0}");
    }
}
