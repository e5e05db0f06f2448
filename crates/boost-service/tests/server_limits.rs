//! The kit's servers bound their connections and requests: a connection cap
//! past which new connections are closed at once (counted), a probe reserve so
//! `/health/*` still answers, idle and header-read (slowloris) timeouts, and
//! admin request bodies read within `admin.body_timeout`, never blocking
//! probes. Installs a global metrics recorder, hence a binary of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use boost_service::grpc::{GrpcServer, GrpcSettings};
use boost_service::{AdminSettings, RunningService};
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "admin-token-5d1e8c2b7a";
/// Generous bounds for a loaded 2-core machine.
const FAST: Duration = Duration::from_secs(3);

/// Tests here read shared counters: they take turns.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn snapshotter() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder.install().unwrap();
        snapshotter
    })
}

/// The value of counter `name` with every label of `labels`.
fn counter(name: &str, labels: &[(&str, &str)]) -> u64 {
    snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| {
            let key = key.key();
            key.name() == name
                && labels
                    .iter()
                    .all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v))
        })
        .map(|(.., value)| match value {
            DebugValue::Counter(n) => n,
            _ => 0,
        })
        .sum()
}

struct Hello;

#[tonic::async_trait]
impl Greeter for Hello {
    async fn say_hello(
        &self,
        request: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
        Ok(tonic::Response::new(HelloReply {
            message: format!("hello {}", request.into_inner().name),
        }))
    }
}

async fn start(
    admin: AdminSettings,
    grpc: impl FnOnce(&mut GrpcSettings),
) -> (RunningService, SocketAddr) {
    snapshotter();
    let mut settings = GrpcSettings::new("127.0.0.1:0".parse().unwrap());
    grpc(&mut settings);
    let grpc = GrpcServer::new(
        settings,
        tonic::service::Routes::new(GreeterServer::new(Hello)),
    )
    .bind()
    .unwrap();
    let addr = grpc.local_addr().unwrap();
    let running = common::builder("limits-test")
        .admin(admin)
        .grpc(grpc)
        .start()
        .await
        .unwrap();
    (running, addr)
}

fn admin() -> AdminSettings {
    common::any_port()
        .with_token(TOKEN)
        .with_connection_timeouts(
            Duration::from_secs(60),
            Duration::from_secs(60),
            Duration::from_secs(5),
        )
}

/// Opens `n` connections that send nothing, and waits until the server took them.
async fn idle_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut streams = Vec::new();
    for _ in 0..n {
        streams.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    streams
}

/// How long until the server closes `stream` (reads end-of-stream or a reset),
/// reading and dropping whatever it sends first; `None` if still open after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + within).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

async fn status_of(addr: SocketAddr, path: &str) -> Option<u16> {
    let client = reqwest::Client::builder()
        .timeout(FAST)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let response = client.get(common::url(addr, path)).send().await.ok()?;
    Some(response.status().as_u16())
}

#[tokio::test]
async fn admin_connections_past_the_cap_are_closed_at_once_and_counted_while_probes_answer() {
    let _turn = SERIAL.lock().await;
    let (svc, _) = start(admin().with_max_connections(4, 2), |_| {}).await;
    let addr = svc.admin_addr();
    let rejected = || counter("server_connections_rejected_total", &[("server", "admin")]);
    let before = rejected();

    let _general = idle_connections(addr, 4).await;
    // The cap is full: a probe still answers, from the reserve; nothing else does.
    assert_eq!(status_of(addr, "/health/live").await, Some(200));
    assert_eq!(status_of(addr, "/health/ready").await, Some(200));
    assert_eq!(status_of(addr, "/metrics").await, Some(503));

    // Reserve full too: new connections are closed at once, and counted.
    let _reserve = idle_connections(addr, 2).await;
    for _ in 0..3 {
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let closed = closed_within(&mut extra, Duration::from_secs(10)).await;
        assert!(
            closed.is_some_and(|t| t < FAST),
            "not refused fast: {closed:?}"
        );
    }
    assert!(
        rejected() >= before + 3,
        "{} refusals counted",
        rejected() - before
    );

    // A reserve connection that sends nothing is let go quickly (2 s), so the
    // reserve serves probes again well before the header read timeout (60 s).
    let started = Instant::now();
    loop {
        if status_of(addr, "/health/live").await == Some(200) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "probes never answered again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop(svc).await;
}

#[tokio::test]
async fn grpc_connections_past_the_cap_are_closed_at_once_and_calls_work_below_it() {
    let _turn = SERIAL.lock().await;
    let (svc, addr) = start(admin(), |s| {
        s.server.max_connections = 3;
        s.server.probe_connections = 0;
    })
    .await;
    let rejected = || counter("server_connections_rejected_total", &[("server", "grpc")]);
    let before = rejected();
    let mut held = idle_connections(addr, 3).await;
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let closed = closed_within(&mut extra, Duration::from_secs(10)).await;
    assert!(
        closed.is_some_and(|t| t < FAST),
        "not refused fast: {closed:?}"
    );
    assert!(rejected() > before);
    assert_eq!(status_of(svc.admin_addr(), "/health/live").await, Some(200));

    held.pop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut client = GreeterClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let reply = client
        .say_hello(HelloRequest { name: "cap".into() })
        .await
        .unwrap();
    assert_eq!(reply.into_inner().message, "hello cap");
    stop(svc).await;
}

#[tokio::test]
async fn grpc_health_checks_answer_from_the_reserve_while_the_cap_is_full() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;

    let _turn = SERIAL.lock().await;
    let (svc, addr) = start(admin(), |s| {
        s.server.max_connections = 2;
        s.server.probe_connections = 2;
    })
    .await;
    let _held = idle_connections(addr, 2).await;
    let rejected = counter("server_connections_rejected_total", &[("server", "grpc")]);
    let endpoint = format!("http://{addr}");
    let channel = tonic::transport::Endpoint::from_shared(endpoint.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let reply = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(
        reply.into_inner().status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    let mut greeter = GreeterClient::connect(endpoint).await.unwrap();
    let refused = greeter
        .say_hello(HelloRequest { name: "x".into() })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(refused.message().contains("max_connections"), "{refused:?}");
    // Both were served from the reserve: nothing was refused outright.
    assert_eq!(
        counter("server_connections_rejected_total", &[("server", "grpc")]),
        rejected,
        "no connection was refused outright"
    );
    stop(svc).await;
}

#[tokio::test]
async fn silent_and_slow_connections_are_closed_after_the_header_read_timeout() {
    let _turn = SERIAL.lock().await;
    let header = Duration::from_millis(800);
    let (svc, grpc) = start(
        admin().with_connection_timeouts(Duration::from_secs(60), header, Duration::from_secs(5)),
        |s| s.server.header_read_timeout = header,
    )
    .await;
    let admin = svc.admin_addr();

    // Silent, on both servers.
    for addr in [admin, grpc] {
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let closed = closed_within(&mut silent, Duration::from_secs(20)).await;
        assert!(
            closed.is_some_and(|t| t >= header / 2),
            "{addr}: {closed:?}"
        );
    }
    // Slowloris: a byte of headers every 200 ms, never finishing.
    let mut slow = TcpStream::connect(admin).await.unwrap();
    slow.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let closed = loop {
        if slow.write_all(b"X").await.is_err() {
            break started.elapsed();
        }
        let mut buf = [0u8; 64];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(200), slow.read(&mut buf)).await
        {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "slowloris kept its connection"
        );
    };
    assert!(closed < Duration::from_secs(15), "{closed:?}");
    // The same on a kept-alive connection's second request.
    let mut kept = TcpStream::connect(admin).await.unwrap();
    kept.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    kept.write_all(b"GET /health/live HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let closed = closed_within(&mut kept, Duration::from_secs(20)).await;
    assert!(
        closed.is_some(),
        "a stalled second request head kept the connection"
    );
    // A partial HTTP/2 preface on the gRPC port.
    let mut partial = TcpStream::connect(grpc).await.unwrap();
    partial.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    assert!(
        closed_within(&mut partial, Duration::from_secs(20))
            .await
            .is_some()
    );
    assert!(
        counter(
            "server_connections_timed_out_total",
            &[("reason", "header_timeout")]
        ) >= 4
    );
    stop(svc).await;
}

#[tokio::test]
async fn connections_without_a_request_in_flight_are_closed_after_the_idle_timeout() {
    let _turn = SERIAL.lock().await;
    let idle = Duration::from_secs(1);
    let (svc, grpc) = start(
        admin().with_connection_timeouts(idle, Duration::from_secs(10), Duration::from_secs(5)),
        |s| s.server.max_connection_idle = idle,
    )
    .await;
    let closed_idle = |server: &'static str| {
        counter(
            "server_connections_timed_out_total",
            &[("server", server), ("reason", "idle")],
        )
    };
    let (admin_before, grpc_before) = (closed_idle("admin"), closed_idle("grpc"));

    let mut kept = TcpStream::connect(svc.admin_addr()).await.unwrap();
    kept.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let closed = closed_within(&mut kept, Duration::from_secs(20)).await;
    assert!(closed.is_some_and(|t| t >= idle / 2), "{closed:?}");
    assert!(closed_idle("admin") > admin_before);

    let mut client = GreeterClient::connect(format!("http://{grpc}"))
        .await
        .unwrap();
    client
        .say_hello(HelloRequest { name: "a".into() })
        .await
        .unwrap();
    let started = Instant::now();
    while closed_idle("grpc") == grpc_before {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "idle gRPC connection kept"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(started.elapsed() >= idle / 2);
    // The client reconnects on its next call.
    client
        .say_hello(HelloRequest { name: "b".into() })
        .await
        .unwrap();
    stop(svc).await;
}

#[tokio::test]
async fn slow_request_bodies_never_delay_probes_and_get_408_after_the_body_timeout() {
    let _turn = SERIAL.lock().await;
    let body_timeout = Duration::from_secs(4);
    let (svc, _) = start(
        admin().with_connection_timeouts(
            Duration::from_secs(60),
            Duration::from_secs(10),
            body_timeout,
        ),
        |_| {},
    )
    .await;
    let addr = svc.admin_addr();
    // 40 authenticated requests whose bodies stall: more than the 32 handler slots.
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "PUT /loglevel HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Length: 100\r\n\r\ni"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for path in ["/health/ready", "/health/live", "/metrics"] {
        let started = Instant::now();
        let status = status_of(addr, path).await;
        let took = started.elapsed();
        assert!(status.is_some(), "{path} did not answer");
        assert!(
            took < body_timeout / 2,
            "{path} waited {took:?} behind slow bodies"
        );
    }
    let mut stream = slow.pop().unwrap();
    let mut answer = Vec::new();
    let started = Instant::now();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("admin.body_timeout"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(15));
    stop(svc).await;
}

#[tokio::test]
async fn admin_bodies_over_16_kib_are_413() {
    let _turn = SERIAL.lock().await;
    let (svc, _) = start(admin(), |_| {}).await;
    let response = common::client()
        .put(common::url(svc.admin_addr(), "/loglevel"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .body("a".repeat(17 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    stop(svc).await;
}

async fn stop(svc: RunningService) {
    svc.shutdown_handle().trigger();
    svc.wait().await.unwrap();
}
