//! boost-http vs bare axum and raw hyper-util, in the same run.
//!
//! Two axum servers on loopback, both hyper HTTP/1.1 through `axum::serve`
//! with `TCP_NODELAY` on accepted sockets, same handler
//! (`GET /v1/hello/{name}` → `{"message": …}`):
//! - `bare_axum`: the router alone;
//! - `boost_stack`: the same router under `boost_http::server::stack(&HttpSettings::default())`
//!   (request id, server span, metrics, problem+json, shedding, deadline,
//!   panic catch, body limit), with the boost-metrics recorder installed so
//!   metrics are really recorded. No tracing subscriber is installed (spans
//!   are disabled, as with a filter that leaves `http.server` off).
//!
//! Groups:
//! - `http_server_sequential`: a raw hyper-util client, one request at a
//!   time, against both servers (target p50 ≤ 1.10× bare);
//! - `http_server_concurrent64`: 64 requests in flight, time per request
//!   (target throughput ≥ 0.90× bare, i.e. time ≤ 1.11×);
//! - `http_stack_only`: one request through the router with no network, bare
//!   vs layered (what the stack itself costs per request);
//! - `http_client_sequential`: the raw hyper-util client vs boost-http's
//!   `HttpClient`, both against the bare server (target p50 ≤ 1.10×).
//!
//! Criterion's back-to-back groups swing on a shared machine, so the bench
//! also prints `INTERLEAVED` lines: alternating rounds (raw, ours, ours, raw,
//! …) so load from other processes hits both alike.
//!
//! Run: `cargo bench -p boost-benches --bench http -- --warm-up-time 1 --measurement-time 3`
//! (only the alternating lines: `cargo bench -p boost-benches --bench http -- nomatch`).

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use axum::serve::ListenerExt;
use boost_config::ServiceIdentity;
use boost_http::HttpSettings;
use boost_http::client::{HttpClient, HttpClientSettings};
use boost_metrics::MetricsSettings;
use bytes::Bytes;
use criterion::{Criterion, criterion_group};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::runtime::Runtime;

const CONCURRENCY: u64 = 64;

type Raw = Client<HttpConnector, Empty<Bytes>>;

async fn hello(Path(name): Path<String>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "message": format!("Hello, {name}!") }))
}

fn routes() -> Router {
    Router::new().route("/v1/hello/{name}", get(hello))
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn raw_client() -> Raw {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

async fn raw_get(client: &Raw, addr: SocketAddr) {
    let uri = format!("http://{addr}/v1/hello/bench")
        .parse()
        .expect("uri");
    let response = client.get(uri).await.expect("request");
    assert!(response.status().is_success());
    black_box(
        response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes(),
    );
}

async fn boost_get(client: &HttpClient) {
    let response = client.get("/v1/hello/bench").send().await.expect("request");
    assert!(response.status().is_success());
    black_box(response.body());
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

/// p50 of two request makers measured in alternating rounds.
async fn interleaved<A, AF, B, BF>(label: &str, mut raw: A, mut ours: B)
where
    A: FnMut() -> AF,
    AF: std::future::Future<Output = ()>,
    B: FnMut() -> BF,
    BF: std::future::Future<Output = ()>,
{
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..40 {
        for turn in 0..2 {
            let raw_turn = (round + turn) % 2 == 0;
            for _ in 0..250 {
                let start = Instant::now();
                if raw_turn {
                    raw().await;
                    a.push(start.elapsed());
                } else {
                    ours().await;
                    b.push(start.elapsed());
                }
            }
        }
    }
    let (a50, b50) = (percentile(&mut a, 0.5), percentile(&mut b, 0.5));
    let (a99, b99) = (percentile(&mut a, 0.99), percentile(&mut b, 0.99));
    eprintln!(
        "INTERLEAVED {label}: p50 ours {b50:?} / raw {a50:?} = {:.3}x; p99 ours {b99:?} / raw {a99:?} = {:.3}x ({} requests each)",
        b50.as_secs_f64() / a50.as_secs_f64(),
        b99.as_secs_f64() / a99.as_secs_f64(),
        a.len()
    );
}

/// Time for `iters` requests with [`CONCURRENCY`] tasks sharing them.
async fn concurrent(client: Raw, addr: SocketAddr, iters: u64) -> Duration {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CONCURRENCY {
        let client = client.clone();
        let n = iters / CONCURRENCY + u64::from(worker < iters % CONCURRENCY);
        tasks.push(tokio::spawn(async move {
            for _ in 0..n {
                raw_get(&client, addr).await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    start.elapsed()
}

/// Throughput at [`CONCURRENCY`] in flight, alternating rounds; the median of
/// the per-round time ratios.
async fn interleaved_concurrent(client: &Raw, bare: SocketAddr, ours: SocketAddr) {
    const REQUESTS: u64 = 2_000;
    let mut ratios = Vec::new();
    let (mut bare_total, mut ours_total) = (Duration::ZERO, Duration::ZERO);
    for round in 0..20 {
        let (b, o) = if round % 2 == 0 {
            let b = concurrent(client.clone(), bare, REQUESTS).await;
            (b, concurrent(client.clone(), ours, REQUESTS).await)
        } else {
            let o = concurrent(client.clone(), ours, REQUESTS).await;
            (concurrent(client.clone(), bare, REQUESTS).await, o)
        };
        bare_total += b;
        ours_total += o;
        ratios.push(o.as_secs_f64() / b.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let per = |t: Duration| t / (20 * REQUESTS as u32);
    eprintln!(
        "INTERLEAVED http_server, {CONCURRENCY} in flight: time per request ours {:?} / raw {:?}; median round ratio {median:.3}x -> throughput {:.3}x (20 rounds of {REQUESTS})",
        per(ours_total),
        per(bare_total),
        1.0 / median
    );
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// One request through `router` with no network, its body read to the end.
async fn through_router(router: &Router) {
    use tower::ServiceExt;
    let request = http::Request::get("/v1/hello/bench")
        .body(axum::body::Body::empty())
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    black_box(
        response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes(),
    );
}

/// The boost-metrics recorder, so the stack's metrics are really recorded.
fn install_metrics(rt: &Runtime) -> boost_metrics::MetricsHandle {
    let identity = ServiceIdentity::new("bench", "0.0.0");
    rt.block_on(async {
        boost_metrics::install(&MetricsSettings::default(), &identity).expect("metrics")
    })
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let _metrics = install_metrics(&rt);
    let (bare, ours) = rt.block_on(async {
        let stack = boost_http::server::stack(&HttpSettings::default());
        (serve(routes()).await, serve(routes().layer(stack)).await)
    });
    let raw = raw_client();
    let mut settings = HttpClientSettings::with_base_urls([format!("http://{bare}")]);
    settings.timeout = Duration::from_secs(10);
    let boost = rt.block_on(async { HttpClient::new("bench", &settings).expect("client") });

    // `HTTP_BENCH_NO_INTERLEAVED=1`: criterion groups only (for a profiler).
    let interleave = std::env::var_os("HTTP_BENCH_NO_INTERLEAVED").is_none();
    rt.block_on(async {
        if !interleave {
            return;
        }
        interleaved(
            "http_server",
            || raw_get(&raw, bare),
            || raw_get(&raw, ours),
        )
        .await;
        interleaved_concurrent(&raw, bare, ours).await;
        interleaved("http_client", || raw_get(&raw, bare), || boost_get(&boost)).await;
    });

    let mut group = c.benchmark_group("http_server_sequential");
    for (id, addr) in [("bare_axum", bare), ("boost_stack", ours)] {
        group.bench_function(id, |b| b.to_async(&rt).iter(|| raw_get(&raw, addr)));
    }
    group.finish();

    let mut group = c.benchmark_group("http_server_concurrent64");
    for (id, addr) in [("bare_axum", bare), ("boost_stack", ours)] {
        group.bench_function(id, |b| {
            b.to_async(&rt)
                .iter_custom(|iters| concurrent(raw.clone(), addr, iters))
        });
    }
    group.finish();

    // The stack alone, no network: one request through the router, bare vs
    // layered, its body read to the end.
    // `with_state(())` as `axum::serve` does: handlers become routes once.
    let bare_router = routes().with_state(());
    let layered = routes()
        .layer(boost_http::server::stack(&HttpSettings::default()))
        .with_state(());
    let mut group = c.benchmark_group("http_stack_only");
    for (id, router) in [("bare_axum", bare_router), ("boost_stack", layered)] {
        group.bench_function(id, |b| b.to_async(&rt).iter(|| through_router(&router)));
    }
    group.finish();

    let mut group = c.benchmark_group("http_client_sequential");
    group.bench_function("raw_hyper_util", |b| {
        b.to_async(&rt).iter(|| raw_get(&raw, bare))
    });
    group.bench_function("boost_client", |b| {
        b.to_async(&rt).iter(|| boost_get(&boost))
    });
    group.finish();
}

criterion_group!(benches, bench);

/// `HTTP_BENCH_DRIVE=bare|boost|stack-bare|stack-boost|client-raw|client-boost`:
/// a fixed number of requests (`HTTP_BENCH_CALLS`, default 2000;
/// `HTTP_BENCH_IN_FLIGHT=1` for 64 at a time) through one variant and exit,
/// for callgrind: the difference between two call counts divided by the
/// difference in calls is the instructions per request, start-up excluded.
/// `client-raw` and `client-boost` send through raw hyper-util or
/// `HttpClient` to the bare server. Client and server share one
/// current-thread runtime here.
fn drive(variant: &str) {
    let calls: u64 = std::env::var("HTTP_BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let in_flight = std::env::var_os("HTTP_BENCH_IN_FLIGHT").is_some();
    // One thread: the same work in the same order on every run, so two
    // runs' instruction counts differ only by what changed.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _metrics = install_metrics(&rt);
    let layered = || routes().layer(boost_http::server::stack(&HttpSettings::default()));
    rt.block_on(async {
        match variant {
            "stack-bare" | "stack-boost" => {
                let router = if variant == "stack-bare" {
                    routes().with_state(())
                } else {
                    layered().with_state(())
                };
                for _ in 0..calls {
                    through_router(&router).await;
                }
            }
            "bare" | "boost" => {
                let app = if variant == "bare" {
                    routes()
                } else {
                    layered()
                };
                let addr = serve(app).await;
                let client = raw_client();
                if in_flight {
                    concurrent(client, addr, calls).await;
                } else {
                    for _ in 0..calls {
                        raw_get(&client, addr).await;
                    }
                }
            }
            "client-raw" | "client-boost" => {
                let addr = serve(routes()).await;
                if variant == "client-raw" {
                    let client = raw_client();
                    for _ in 0..calls {
                        raw_get(&client, addr).await;
                    }
                } else {
                    let settings = HttpClientSettings::with_base_urls([format!("http://{addr}")]);
                    let client = HttpClient::new("bench", &settings).expect("client");
                    for _ in 0..calls {
                        boost_get(&client).await;
                    }
                }
            }
            other => eprintln!(
                "HTTP_BENCH_DRIVE={other}: expected bare, boost, stack-bare, stack-boost, \
                 client-raw or client-boost"
            ),
        }
    });
}

fn main() {
    if let Ok(variant) = std::env::var("HTTP_BENCH_DRIVE") {
        drive(&variant);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    for group in ["http_server_sequential", "http_server_concurrent64"] {
        boost_benches::report_ratio(group, "bare_axum", "boost_stack");
    }
    boost_benches::report_ratio("http_stack_only", "bare_axum", "boost_stack");
    if let (Some(bare), Some(ours)) = (
        boost_benches::median_ns("http_stack_only", "bare_axum"),
        boost_benches::median_ns("http_stack_only", "boost_stack"),
    ) {
        eprintln!(
            "STACK http_stack_only: the stack adds {:.0} ns per request",
            ours - bare
        );
    }
    boost_benches::report_ratio("http_client_sequential", "raw_hyper_util", "boost_client");
}
