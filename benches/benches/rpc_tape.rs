//! Tapes (`[<client>.tape]`): what a replayed call costs, and what the
//! tape's seam costs a client whose mode is `off`, in the same run.
//!
//! One plain tonic Greeter server on loopback. Groups:
//! - `rpc_tape_off`: `today` = the client stack as it was before tapes
//!   (`boost_rpc::bench::plain_client`: the same stack, its future boxed
//!   once) vs `mode_off` = `boost_rpc::client()` with `tape.mode = "off"`;
//!   sequential `SayHello` over the network. Target ≤ 1.01×.
//! - `rpc_tape_replay`: `raw_tonic` (a `Channel` to the server) vs
//!   `replayed` (a client in `replay` on a tape recorded at start: no
//!   network). Target: `replayed` p50 ≤ 50 µs.
//!
//! After criterion, `PAIRED` lines measure `today` and `mode_off` in
//! alternating batches, and `P50` the replayed calls one by one.
//!
//! Run: `cargo bench -p boost-benches --bench rpc_tape -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use boost_rpc::client::{Client, ClientSettings, TapeMode, TapeSettings};
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{FILE_DESCRIPTOR_SET, HelloReply, HelloRequest};
use criterion::Criterion;
use tokio::runtime::Runtime;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;

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

struct Clients {
    raw: GreeterClient<Channel>,
    today: GreeterClient<boost_rpc::bench::PlainClient>,
    off: GreeterClient<Client>,
    replayed: GreeterClient<Client>,
    _tapes: tempfile::TempDir,
}

fn setup(rt: &Runtime) -> Clients {
    rt.block_on(async {
        let url = format!("http://{}", serve().await);
        let channel = tonic::transport::Endpoint::from_shared(url.clone())
            .expect("url")
            .tcp_nodelay(true)
            .connect()
            .await
            .expect("connect");
        let mut settings = ClientSettings::with_endpoints([url]);
        settings.retry.idempotent_methods = vec!["hello.v1.Greeter/SayHello".into()];
        let today = boost_rpc::bench::plain_client("bench_today", &settings).expect("today");
        let off = boost_rpc::client("bench_off", &settings).expect("off");

        let tapes = tempfile::tempdir().expect("tempdir");
        let tape = tapes.path().join("bench.json");
        let mut recording = settings.clone();
        recording.timeout = Duration::from_secs(10);
        recording.tape = TapeSettings::new(TapeMode::Record, &tape);
        let recorder = Client::builder("bench_record", &recording)
            .descriptors(FILE_DESCRIPTOR_SET)
            .build()
            .expect("record");
        GreeterClient::new(recorder)
            .say_hello(request())
            .await
            .expect("recorded");
        let mut replaying = settings.clone();
        replaying.tape = TapeSettings::new(TapeMode::Replay, &tape);
        let replayed = Client::builder("bench_replay", &replaying)
            .descriptors(FILE_DESCRIPTOR_SET)
            .build()
            .expect("replay");

        let clients = Clients {
            raw: GreeterClient::new(channel),
            today: GreeterClient::new(today),
            off: GreeterClient::new(off),
            replayed: GreeterClient::new(replayed),
            _tapes: tapes,
        };
        for _ in 0..10 {
            call(&clients, 0).await;
            call(&clients, 1).await;
            call(&clients, 2).await;
            call(&clients, 3).await;
        }
        clients
    })
}

async fn call(clients: &Clients, which: usize) {
    match which {
        0 => black_box(clients.raw.clone().say_hello(request()).await.expect("raw")),
        1 => black_box(
            clients
                .today
                .clone()
                .say_hello(request())
                .await
                .expect("today"),
        ),
        2 => black_box(clients.off.clone().say_hello(request()).await.expect("off")),
        _ => black_box(
            clients
                .replayed
                .clone()
                .say_hello(request())
                .await
                .expect("replayed"),
        ),
    };
}

fn bench_one(
    c: &mut Criterion,
    rt: &Runtime,
    clients: &Clients,
    group: &str,
    variants: [(&str, usize); 2],
) {
    let mut g = c.benchmark_group(group);
    for (id, which) in variants {
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        call(clients, which).await;
                    }
                    start.elapsed()
                })
            });
        });
    }
    g.finish();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rt = runtime();
    let clients = setup(&rt);
    let mut c = Criterion::default().configure_from_args();
    bench_one(
        &mut c,
        &rt,
        &clients,
        "rpc_tape_off",
        [("today", 1), ("mode_off", 2)],
    );
    bench_one(
        &mut c,
        &rt,
        &clients,
        "rpc_tape_replay",
        [("raw_tonic", 0), ("replayed", 3)],
    );
    c.final_summary();
    boost_benches::report_ratio("rpc_tape_off", "today", "mode_off");
    boost_benches::report_ratio("rpc_tape_replay", "raw_tonic", "replayed");

    let rounds: usize = std::env::var("RPC_TAPE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(21);
    let batch = |which: usize| {
        rt.block_on(async {
            for _ in 0..500 {
                call(&clients, which).await;
            }
        });
    };
    let (per_round, fastest) = boost_benches::paired_ratio(rounds, || batch(1), || batch(2));
    eprintln!(
        "PAIRED rpc_tape_off: mode_off / today = {per_round:.3}x (median of {rounds} alternating \
         batches of 500 calls), {fastest:.3}x (fastest batches); target <= 1.01x"
    );

    let samples: Vec<f64> = rt.block_on(async {
        let mut samples = Vec::with_capacity(5000);
        for _ in 0..5000 {
            let start = Instant::now();
            call(&clients, 3).await;
            samples.push(start.elapsed().as_nanos() as f64);
        }
        samples
    });
    eprintln!(
        "P50 rpc_tape_replay: replayed {:.1} us per call (one by one, 5000 calls); target <= 50 us",
        median(samples) / 1000.0
    );
}
