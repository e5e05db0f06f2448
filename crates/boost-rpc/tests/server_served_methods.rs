//! With a closed set of served methods, the paths a peer makes up are all
//! labelled `_OTHER`: a scanner cannot create `rpc_method` series (nor fill
//! the handle cache), and the served methods keep their own labels.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod server_support;

use std::collections::HashMap;
use std::time::Duration;

use boost_metrics::conventions::{RPC_METHOD, RPC_SERVER_CALL_DURATION};
use boost_rpc::server::served_methods::OTHER_METHOD;
use boost_rpc::server::{self, ServedMethods, ServerSettings};
use boost_test_proto::greeter_server::GreeterServer;
use http_body_util::{BodyExt, Full};
use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use server_support::{TestGreeter, client, hello};
use tonic::transport::server::TcpIncoming;

/// A gRPC call to `path` with an empty message; its `grpc-status`.
async fn call_path(
    sender: &mut hyper::client::conn::http2::SendRequest<Full<prost::bytes::Bytes>>,
    addr: std::net::SocketAddr,
    path: &str,
) -> String {
    let request = http::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(prost::bytes::Bytes::from_static(&[
            0, 0, 0, 0, 0,
        ])))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    if let Some(code) = parts.headers.get("grpc-status") {
        return code.to_str().unwrap().to_owned();
    }
    let trailers = body.collect().await.unwrap().trailers().cloned().unwrap();
    trailers["grpc-status"].to_str().unwrap().to_owned()
}

/// Duration samples by `rpc_method` label.
fn samples_by_method(snapshotter: &metrics_util::debugging::Snapshotter) -> HashMap<String, usize> {
    let mut by_method = HashMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let (kind, key) = key.into_parts();
        if kind != MetricKind::Histogram || key.name() != RPC_SERVER_CALL_DURATION {
            continue;
        }
        let method = key
            .labels()
            .find(|l| l.key() == RPC_METHOD)
            .map(|l| l.value().to_owned())
            .unwrap();
        if let DebugValue::Histogram(samples) = value {
            *by_method.entry(method).or_default() += samples.len();
        }
    }
    by_method
}

#[tokio::test]
async fn made_up_paths_are_one_other_series_and_served_methods_keep_their_names() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings = ServerSettings::default();
    let served = ServedMethods::only().method("hello.v1.Greeter/SayHello");
    let router = tonic::transport::Server::builder()
        .layer(server::stack(&settings).served_methods(served))
        .add_service(GreeterServer::new(TestGreeter::default()));
    tokio::spawn(router.serve_with_incoming(TcpIncoming::from(listener)));

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    // Unknown services, and unknown methods of a served service.
    for i in 0..200 {
        let path = if i % 2 == 0 {
            format!("/scan{i}.Service/Probe")
        } else {
            format!("/hello.v1.Greeter/Junk{i}")
        };
        assert_eq!(call_path(&mut sender, addr, &path).await, "12", "{path}");
    }
    let mut greeter = client(addr).await;
    greeter.say_hello(hello("ada")).await.unwrap();

    let mut seen = HashMap::new();
    for _ in 0..100 {
        for (method, n) in samples_by_method(&snapshotter) {
            *seen.entry(method).or_insert(0) += n;
        }
        if seen.get(OTHER_METHOD) == Some(&200) && seen.get("hello.v1.Greeter/SayHello") == Some(&1)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen.len(), 2, "two series only: {seen:?}");
    assert_eq!(seen.get(OTHER_METHOD), Some(&200), "{seen:?}");
    assert_eq!(seen.get("hello.v1.Greeter/SayHello"), Some(&1), "{seen:?}");
}
