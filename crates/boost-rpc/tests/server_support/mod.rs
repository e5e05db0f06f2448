//! Shared by the `server_*` tests: a Greeter whose behaviour is chosen by the
//! request's name, and a real tonic server on 127.0.0.1:0 under the boost stack.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use boost_rpc::ServiceError;
use boost_rpc::server::{self, ServerSettings};
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use tonic::transport::Channel;
use tonic::transport::server::TcpIncoming;

/// Counts what handlers did, to observe cancellation.
#[derive(Debug, Default)]
pub struct Probe {
    pub started: AtomicUsize,
    pub finished: AtomicUsize,
    /// Handlers dropped before they finished (cancelled).
    pub cancelled: AtomicUsize,
}

impl Probe {
    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }
    pub fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }
    pub fn cancelled(&self) -> usize {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// Marks a handler cancelled if dropped before `done()`.
struct DropGuard {
    probe: Arc<Probe>,
    done: bool,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if self.done {
            self.probe.finished.fetch_add(1, Ordering::SeqCst);
        } else {
            self.probe.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Behaviour by name: `panic`, `fail`, `slow:<ms>`, `deadline`, else a greeting.
#[derive(Clone, Debug, Default)]
pub struct TestGreeter {
    pub probe: Arc<Probe>,
}

#[tonic::async_trait]
impl Greeter for TestGreeter {
    async fn say_hello(
        &self,
        request: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
        self.probe.started.fetch_add(1, Ordering::SeqCst);
        let mut guard = DropGuard {
            probe: self.probe.clone(),
            done: false,
        };
        let name = request.into_inner().name;
        tracing::info!(name = %name, "greeting");
        let reply = if name == "panic" {
            panic!("secret: the database password is hunter2");
        } else if name == "fail" {
            Err(ServiceError::not_found("nobody by that name").with_reason("NOBODY"))?
        } else if let Some(ms) = name.strip_prefix("slow:") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
            "slept".to_owned()
        } else if name == "deadline" {
            let left = boost_rpc::deadline::remaining();
            format!("{:?}", left.map(|d| d.as_millis()))
        } else {
            format!("hello {name}")
        };
        guard.done = true;
        Ok(tonic::Response::new(HelloReply { message: reply }))
    }
}

/// Serves `greeter` under `server::stack(settings)` on a fresh loopback port.
/// The server runs until the test's runtime ends.
pub async fn serve(settings: ServerSettings, greeter: TestGreeter) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let router = settings
        .apply(tonic::transport::Server::builder())
        .layer(server::stack(&settings))
        .add_service(GreeterServer::new(greeter));
    tokio::spawn(router.serve_with_incoming(incoming));
    addr
}

pub async fn client(addr: SocketAddr) -> GreeterClient<Channel> {
    GreeterClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

pub fn hello(name: &str) -> tonic::Request<HelloRequest> {
    tonic::Request::new(HelloRequest { name: name.into() })
}

/// A raw HTTP/2 gRPC unary call, bypassing tonic's client (which enforces
/// `grpc-timeout` itself and would race the server). Returns the final
/// `grpc-status` (from the headers if trailers-only, else the trailers).
pub async fn raw_say_hello(
    addr: SocketAddr,
    name: &str,
    headers: &[(&str, &str)],
) -> (i32, http::HeaderMap) {
    use http_body_util::{BodyExt, Full};
    use prost::Message;

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(conn);

    let message = HelloRequest { name: name.into() }.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    let mut request = http::Request::post(format!("http://{addr}/hello.v1.Greeter/SayHello"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request
        .body(Full::new(prost::bytes::Bytes::from(frame)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let status = |h: &http::HeaderMap| {
        h.get("grpc-status")
            .map(|v| v.to_str().unwrap().parse::<i32>().unwrap())
    };
    if let Some(code) = status(&parts.headers) {
        return (code, parts.headers);
    }
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    (
        status(&trailers).expect("grpc-status in trailers"),
        parts.headers,
    )
}
