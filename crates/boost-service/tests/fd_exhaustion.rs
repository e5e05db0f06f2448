//! Out of file descriptors: `accept()` fails with `EMFILE`. The accept loops
//! of both servers back off (no busy loop: tonic's own `TcpIncoming` retried at
//! once) and serve again as soon as descriptors are free.
//! Lowers the process's open-files limit, hence a binary of its own.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use boost_service::grpc::{GrpcServer, GrpcSettings};
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

/// User + system CPU time of this process so far, from `/proc/self/stat`
/// opened before the descriptors ran out.
fn cpu_time(stat: &std::fs::File) -> Duration {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 4096];
    let n = stat.read_at(&mut buf, 0).unwrap();
    let stat = String::from_utf8_lossy(&buf[..n]).into_owned();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); fields[0] is field 3.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

async fn live(addr: std::net::SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return false;
    };
    let request = b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if stream.write_all(request).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer)).await;
    read.is_ok() && answer.starts_with(b"HTTP/1.1 200")
}

struct Hello;

#[tonic::async_trait]
impl Greeter for Hello {
    async fn say_hello(
        &self,
        _: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
        Ok(tonic::Response::new(HelloReply::default()))
    }
}

async fn greets(addr: std::net::SocketAddr) -> bool {
    let call = async {
        let mut client = GreeterClient::connect(format!("http://{addr}"))
            .await
            .ok()?;
        client.say_hello(HelloRequest::default()).await.ok()
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), call).await,
        Ok(Some(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_the_servers_back_off_and_serve_again() {
    let grpc = GrpcServer::new(
        GrpcSettings::new("127.0.0.1:0".parse().unwrap()),
        tonic::service::Routes::new(GreeterServer::new(Hello)),
    )
    .bind()
    .unwrap();
    let grpc_addr = grpc.local_addr().unwrap();
    let svc = common::builder("fd-test").grpc(grpc).start().await.unwrap();
    let addr = svc.admin_addr();
    assert!(live(addr).await);
    assert!(greets(grpc_addr).await);

    let stat = std::fs::File::open("/proc/self/stat").unwrap();
    let original = getrlimit(Resource::Nofile);
    let tight = open_fds() + 40;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(tight),
            maximum: original.maximum,
        },
    )
    .unwrap();

    // Fill every descriptor: client sockets here, accepted ones in the server.
    let mut held = Vec::new();
    while held.len() < 200 {
        let to = if held.len() % 2 == 0 { addr } else { grpc_addr };
        match tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(to)).await {
            Ok(Ok(stream)) => held.push(stream),
            _ => break,
        }
    }
    // Connections still in the backlog make the server's accept() fail now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cpu_before = cpu_time(&stat);
    let wall = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu = cpu_time(&stat) - cpu_before;
    assert!(
        cpu < wall.elapsed() / 2,
        "the accept loop spins: {cpu:?} of CPU in {:?}",
        wall.elapsed()
    );

    // Free descriptors: the server serves again within its back-off (at most 1 s).
    held.truncate(held.len() / 2);
    let started = Instant::now();
    while !live(addr).await {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the admin server did not recover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while !greets(grpc_addr).await {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the gRPC server did not recover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(held);
    setrlimit(Resource::Nofile, original).unwrap();
    svc.shutdown_handle().trigger();
    svc.wait().await.unwrap();
}
