//! The kit as services run it — tracing, spans exported, metrics — against the
//! hand-wired stack a team would write instead, in the same run.
//!
//! Both sides make the same calls (the boost-test-proto Greeter on loopback,
//! TCP_NODELAY), record two spans per call (client and server, one trace,
//! the W3C `traceparent` carried between them) through a batch span
//! processor into an in-process exporter that drops them, and record metrics
//! into the same Prometheus recorder:
//! - `kit`: boost-rpc's client and server stacks under the subscriber
//!   `boost_tracing::builder` makes (JSON logs, redaction, OpenTelemetry
//!   layer, `info` filter), with everything on: request id, deadline, retry
//!   budget, ejection, throttle, load shed, panic catch, size limit.
//! - `hand_wired`: raw tonic client and server, each under a small tower
//!   layer that opens the span, extracts or injects `traceparent` with
//!   OpenTelemetry's `TraceContextPropagator`, and records a duration
//!   histogram and a counter; the subscriber is `tracing_subscriber`'s
//!   registry with an `info` `EnvFilter`, `tracing-opentelemetry` and the
//!   JSON fmt layer. Only tracing and metrics: none of the kit's protection.
//!
//! Each side has its own two-thread runtime whose threads have its
//! subscriber as their default, and the two alternate round by round so
//! load from other processes hits both alike. Printed, for the pair (each
//! side's client and server) and for the server alone (a plain tonic client,
//! which records no span, against each side's server):
//! - `TRACED …, sequential`: p50 and p99 per call, `kit / hand_wired`
//!   (40 alternating rounds of 250 calls);
//! - `TRACED …, 64 in flight`: time per call, the median of the round ratios
//!   (20 alternating rounds of 2,000 calls);
//! - then criterion's group `rpc_traced_pair_sequential` and its `RATIO`.
//!
//! Target: both ratios ≤ 1.00 (the kit with everything on costs no more than
//! the hand-wired tracing and metrics alone).
//!
//! Run: `cargo bench -p boost-benches --bench rpc_traced -- --warm-up-time 1 --measurement-time 3`
//! (only the alternating lines: `-- nomatch`)
//! Instructions per call, one side at a time, one thread:
//! `RPC_TRACED_DRIVE=kit|hand_wired RPC_TRACED_CALLS=20000 valgrind --tool=callgrind
//! --toggle-collect='*Runtime::block_on*' <bench binary>` with two call counts; the
//! difference of the totals over the difference of the calls.

use std::future::Future;
use std::hint::black_box;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use boost_benches::Transport;
use boost_config::ServiceIdentity;
use boost_metrics::MetricsSettings;
use boost_rpc::client::ClientSettings;
use boost_rpc::server::{self, ServerSettings};
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use boost_tracing::{LogFormat, TracingSettings};
use criterion::Criterion;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, Sampler, SdkTracerProvider, SpanData, SpanExporter,
};
use tokio::runtime::Runtime;
use tonic::transport::Channel;
use tonic::transport::server::TcpIncoming;
use tracing::Dispatch;
use tracing::field::Empty;
use tracing::instrument::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

const CONCURRENCY: u64 = 64;
const METHOD: &str = "hello.v1.Greeter/SayHello";

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

/// Takes every batch and drops it: the export costs nothing, so what is
/// measured is what each side does per span.
#[derive(Debug)]
struct DropSpans;

impl SpanExporter for DropSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

fn kit_subscriber() -> (Dispatch, boost_tracing::TracingGuard) {
    let mut settings = TracingSettings::default();
    settings.format = LogFormat::Json;
    settings.filter = "info".into();
    boost_tracing::builder(&settings, &ServiceIdentity::new("bench", "0.0.0"))
        .ignore_rust_log()
        .writer(std::io::sink())
        .span_processor(BatchSpanProcessor::builder(DropSpans).build())
        .build()
        .expect("the kit's subscriber")
}

fn hand_wired_subscriber() -> (Dispatch, SdkTracerProvider) {
    let provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
        .with_span_processor(BatchSpanProcessor::builder(DropSpans).build())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(std::io::sink),
        );
    (Dispatch::new(subscriber), provider)
}

/// A two-thread runtime whose threads (workers and blocking) have `dispatch`
/// as their default subscriber.
fn runtime_with(dispatch: Dispatch) -> Runtime {
    thread_local! {
        static GUARD: std::cell::RefCell<Option<tracing::dispatcher::DefaultGuard>> =
            const { std::cell::RefCell::new(None) };
    }
    let multi = std::env::var("RPC_TRACED_DRIVE").is_err();
    let mut builder = if multi {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder
        .enable_all()
        .on_thread_start(move || {
            let guard = tracing::dispatcher::set_default(&dispatch);
            GUARD.with(|g| *g.borrow_mut() = Some(guard));
        })
        .on_thread_stop(|| GUARD.with(|g| drop(g.borrow_mut().take())))
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

// ---------------------------------------------------------------------------
// The hand-wired side: what a team writes with the raw libraries.

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

fn grpc_status<B>(response: &http::Response<B>) -> String {
    response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("0")
        .to_owned()
}

/// The server layer: span (parented on the caller's `traceparent`), duration
/// histogram and call counter by method and status.
#[derive(Clone)]
struct HandWiredServer<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for HandWiredServer<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().trim_start_matches('/').to_owned();
        let (service, short) = method.split_once('/').unwrap_or(("", method.as_str()));
        let span = tracing::info_span!(
            "rpc.server",
            otel.name = %method,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = short,
            rpc.grpc.status_code = Empty,
        );
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
        let _ = span.set_parent(parent);
        let start = Instant::now();
        let call = span.in_scope(|| self.inner.call(request));
        let recorded = span.clone();
        Box::pin(
            async move {
                let result = call.await;
                let status = result.as_ref().map_or_else(|_| "2".to_owned(), grpc_status);
                recorded.record("rpc.grpc.status_code", status.as_str());
                let labels = [("rpc_method", method), ("rpc_grpc_status_code", status)];
                metrics::histogram!("handwired_rpc_server_duration_seconds", &labels[..])
                    .record(start.elapsed().as_secs_f64());
                metrics::counter!("handwired_rpc_server_calls_total", &labels[..]).increment(1);
                result
            }
            .instrument(span),
        )
    }
}

/// The client layer: span, `traceparent` injected, duration histogram and
/// call counter by method and status.
#[derive(Clone)]
struct HandWiredClient<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for HandWiredClient<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().trim_start_matches('/').to_owned();
        let (service, short) = method.split_once('/').unwrap_or(("", method.as_str()));
        let span = tracing::info_span!(
            "rpc.client",
            otel.name = %method,
            otel.kind = "client",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = short,
            rpc.grpc.status_code = Empty,
        );
        TraceContextPropagator::new()
            .inject_context(&span.context(), &mut HeaderInjector(request.headers_mut()));
        let start = Instant::now();
        let call = span.in_scope(|| self.inner.call(request));
        let recorded = span.clone();
        Box::pin(
            async move {
                let result = call.await;
                let status = result
                    .as_ref()
                    .map_or_else(|_| "14".to_owned(), grpc_status);
                recorded.record("rpc.grpc.status_code", status.as_str());
                let labels = [("rpc_method", method), ("rpc_grpc_status_code", status)];
                metrics::histogram!("handwired_rpc_client_duration_seconds", &labels[..])
                    .record(start.elapsed().as_secs_f64());
                metrics::counter!("handwired_rpc_client_calls_total", &labels[..]).increment(1);
                result
            }
            .instrument(span),
        )
    }
}

async fn serve_hand_wired() -> SocketAddr {
    let (incoming, addr) = listener().await;
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(tower::layer::layer_fn(|inner| HandWiredServer { inner }))
            .add_service(GreeterServer::new(Hello))
            .serve_with_incoming(incoming),
    );
    addr
}

async fn hand_wired_client(addr: SocketAddr) -> GreeterClient<HandWiredClient<Channel>> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("url")
        .tcp_nodelay(true)
        .connect()
        .await
        .expect("connect");
    GreeterClient::new(HandWiredClient { inner: channel })
}

// ---------------------------------------------------------------------------
// The kit side.

async fn serve_kit() -> SocketAddr {
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

fn kit_client(addr: SocketAddr) -> GreeterClient<boost_rpc::client::Client> {
    let mut settings = ClientSettings::with_endpoints([format!("http://{addr}")]);
    settings.retry.idempotent_methods = vec![METHOD.into()];
    if std::env::var_os("RPC_TRACED_DRIVE").is_some() {
        // Under valgrind a call can outlast the 300 ms default when the
        // machine is busy; the per-call work is the same (a pre-formatted
        // `grpc-timeout` either way), as in rpc_server.rs's drive modes.
        settings.timeout = std::time::Duration::from_secs(30);
    }
    GreeterClient::new(boost_rpc::client("bench", &settings).expect("client"))
}

// ---------------------------------------------------------------------------
// Driving the calls.

fn request() -> HelloRequest {
    HelloRequest {
        name: "bench".into(),
    }
}

/// The latencies of `n` sequential calls, made on `rt`'s worker threads (so
/// under that side's subscriber).
fn sequential<T: Transport>(rt: &Runtime, client: &GreeterClient<T>, n: usize) -> Vec<Duration> {
    let client = client.clone();
    rt.block_on(async move {
        tokio::spawn(async move {
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let mut client = client.clone();
                let start = Instant::now();
                black_box(client.say_hello(request()).await.expect("call"));
                out.push(start.elapsed());
            }
            out
        })
        .await
        .expect("round")
    })
}

/// The time `calls` calls take with [`CONCURRENCY`] in flight on `rt`.
fn in_flight<T: Transport>(rt: &Runtime, client: &GreeterClient<T>, calls: u64) -> Duration {
    let client = client.clone();
    rt.block_on(async move {
        let start = Instant::now();
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|worker| {
                let mut client = client.clone();
                let n = calls / CONCURRENCY + u64::from(worker < calls % CONCURRENCY);
                tokio::spawn(async move {
                    for _ in 0..n {
                        black_box(client.say_hello(request()).await.expect("call"));
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        start.elapsed()
    })
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

/// One side: its runtime, its client and server, and a plain tonic client
/// (no layer, no span) to its server, for the server's share alone.
struct Side<T> {
    rt: Runtime,
    client: GreeterClient<T>,
    plain: GreeterClient<Channel>,
}

async fn plain_client(addr: SocketAddr) -> GreeterClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("url")
        .tcp_nodelay(true)
        .connect()
        .await
        .expect("connect");
    GreeterClient::new(channel)
}

fn kit_side(dispatch: Dispatch) -> Side<boost_rpc::client::Client> {
    let rt = runtime_with(dispatch);
    let (client, plain) = rt.block_on(async {
        let addr = serve_kit().await;
        (kit_client(addr), plain_client(addr).await)
    });
    Side { rt, client, plain }
}

fn hand_wired_side(dispatch: Dispatch) -> Side<HandWiredClient<Channel>> {
    let rt = runtime_with(dispatch);
    let (client, plain) = rt.block_on(async {
        let addr = serve_hand_wired().await;
        (hand_wired_client(addr).await, plain_client(addr).await)
    });
    Side { rt, client, plain }
}

/// Sequential p50/p99 of `ours` over `raw` in 40 alternating rounds of 250
/// calls, each side on its own runtime.
fn interleaved<A: Transport, B: Transport>(
    label: &str,
    raw: (&Runtime, &GreeterClient<A>),
    ours: (&Runtime, &GreeterClient<B>),
) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..40 {
        let mut run_raw = || a.extend(sequential(raw.0, raw.1, 250));
        let mut run_ours = || b.extend(sequential(ours.0, ours.1, 250));
        if round % 2 == 0 {
            run_raw();
            run_ours();
        } else {
            run_ours();
            run_raw();
        }
    }
    let (a50, b50) = (percentile(&mut a, 0.5), percentile(&mut b, 0.5));
    let (a99, b99) = (percentile(&mut a, 0.99), percentile(&mut b, 0.99));
    eprintln!(
        "TRACED {label}, sequential: p50 kit {b50:?} / hand_wired {a50:?} = {:.3}x; p99 kit {b99:?} / hand_wired {a99:?} = {:.3}x ({} calls each)",
        b50.as_secs_f64() / a50.as_secs_f64(),
        b99.as_secs_f64() / a99.as_secs_f64(),
        a.len()
    );
}

/// Time per call with [`CONCURRENCY`] in flight, `ours` over `raw`: the
/// median of 20 alternating rounds' ratios.
fn interleaved_in_flight<A: Transport, B: Transport>(
    label: &str,
    raw: (&Runtime, &GreeterClient<A>),
    ours: (&Runtime, &GreeterClient<B>),
) {
    const CALLS: u64 = 2_000;
    let mut ratios = Vec::new();
    let (mut raw_total, mut ours_total) = (Duration::ZERO, Duration::ZERO);
    for round in 0..20 {
        let (r, o) = if round % 2 == 0 {
            let r = in_flight(raw.0, raw.1, CALLS);
            (r, in_flight(ours.0, ours.1, CALLS))
        } else {
            let o = in_flight(ours.0, ours.1, CALLS);
            (in_flight(raw.0, raw.1, CALLS), o)
        };
        raw_total += r;
        ours_total += o;
        ratios.push(o.as_secs_f64() / r.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let per_call = |total: Duration| total / (20 * CALLS as u32);
    eprintln!(
        "TRACED {label}, {CONCURRENCY} in flight: time per call kit {:?} / hand_wired {:?}; median round ratio {:.3}x (20 rounds of {CALLS} calls each)",
        per_call(ours_total),
        per_call(raw_total),
        ratios[ratios.len() / 2]
    );
}

fn compare<A: Transport, B: Transport>(c: &mut Criterion, hand_wired: &Side<A>, kit: &Side<B>) {
    // Connect and warm every client.
    sequential(&hand_wired.rt, &hand_wired.client, 500);
    sequential(&kit.rt, &kit.client, 500);
    sequential(&hand_wired.rt, &hand_wired.plain, 500);
    sequential(&kit.rt, &kit.plain, 500);

    let pair = ((&hand_wired.rt, &hand_wired.client), (&kit.rt, &kit.client));
    let server = ((&hand_wired.rt, &hand_wired.plain), (&kit.rt, &kit.plain));
    interleaved("pair (client + server)", pair.0, pair.1);
    interleaved("server (plain client)", server.0, server.1);
    interleaved_in_flight("pair (client + server)", pair.0, pair.1);
    interleaved_in_flight("server (plain client)", server.0, server.1);

    // Criterion's view of the pair (each call also pays a spawn and a wake,
    // on both sides alike).
    let mut group = c.benchmark_group("rpc_traced_pair_sequential");
    group.bench_function("hand_wired", |b| {
        b.iter(|| sequential(&hand_wired.rt, &hand_wired.client, 1))
    });
    group.bench_function("kit", |b| b.iter(|| sequential(&kit.rt, &kit.client, 1)));
    group.finish();
}

/// `RPC_TRACED_DRIVE=kit|hand_wired`: only that side, `RPC_TRACED_CALLS`
/// sequential calls on one thread, for instruction counts.
fn drive(which: &str, kit: Dispatch, hand_wired: Dispatch) {
    let calls: usize = std::env::var("RPC_TRACED_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    // The one-thread runtime runs its tasks on this thread, inside
    // `block_on`, where `on_thread_start` never ran: without this default
    // both sides would run with tracing off (and no `traceparent` sent).
    match which {
        "kit" => {
            let _default = tracing::dispatcher::set_default(&kit);
            let side = kit_side(kit);
            sequential(&side.rt, &side.client, calls);
        }
        "hand_wired" => {
            let _default = tracing::dispatcher::set_default(&hand_wired);
            let side = hand_wired_side(hand_wired);
            sequential(&side.rt, &side.client, calls);
        }
        other => panic!("RPC_TRACED_DRIVE={other}: expected kit or hand_wired"),
    }
}

fn main() {
    let identity = ServiceIdentity::new("bench", "0.0.0");
    let _metrics = boost_metrics::install(&MetricsSettings::default(), &identity).expect("metrics");
    let (kit, _kit_guard) = kit_subscriber();
    let (hand_wired, _provider) = hand_wired_subscriber();
    if let Ok(which) = std::env::var("RPC_TRACED_DRIVE") {
        drive(&which, kit, hand_wired);
        return;
    }
    let hand_wired = hand_wired_side(hand_wired);
    let kit = kit_side(kit);
    let mut criterion = Criterion::default().configure_from_args();
    compare(&mut criterion, &hand_wired, &kit);
    criterion.final_summary();
    boost_benches::report_ratio("rpc_traced_pair_sequential", "hand_wired", "kit");
}
