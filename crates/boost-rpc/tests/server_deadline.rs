//! The deadline layer: callers' `grpc-timeout` bounds the handler, which is
//! cancelled when it passes, and handler code sees the time left.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod server_support;

use std::time::{Duration, Instant};

use boost_rpc::server::ServerSettings;
use server_support::{TestGreeter, client, hello, raw_say_hello, serve};

#[tokio::test]
async fn grpc_timeout_cancels_a_slow_handler_with_deadline_exceeded() {
    let greeter = TestGreeter::default();
    let probe = greeter.probe.clone();
    let addr = serve(ServerSettings::default(), greeter).await;

    // A raw HTTP/2 client: tonic's own client would enforce the timeout too.
    let started = Instant::now();
    let (code, _) = raw_say_hello(addr, "slow:1000", &[("grpc-timeout", "100m")]).await;
    let took = started.elapsed();

    assert_eq!(code, tonic::Code::DeadlineExceeded as i32);
    assert!(
        took < Duration::from_millis(700),
        "took {took:?}, well under the 1 s handler"
    );
    // The handler was dropped at the deadline, not left running to completion.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(probe.started(), 1);
    assert_eq!(probe.cancelled(), 1, "handler was not cancelled");
    assert_eq!(probe.finished(), 0);
}

#[tokio::test]
async fn handler_sees_the_callers_remaining_deadline() {
    let addr = serve(ServerSettings::default(), TestGreeter::default()).await;
    let mut client = client(addr).await;

    let mut request = hello("deadline");
    request.set_timeout(Duration::from_millis(800));
    let reply = client.say_hello(request).await.unwrap().into_inner();
    let left: u128 = reply
        .message
        .strip_prefix("Some(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no deadline seen: {}", reply.message))
        .parse()
        .unwrap();
    assert!(left > 0 && left <= 800, "remaining {left} ms");

    // Without grpc-timeout and without request_timeout there is no deadline.
    let reply = client
        .say_hello(hello("deadline"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.message, "None");
}

#[tokio::test]
async fn request_timeout_setting_bounds_calls_that_carry_no_deadline() {
    let mut settings = ServerSettings::default();
    settings.request_timeout = Some(Duration::from_millis(100));
    let greeter = TestGreeter::default();
    let probe = greeter.probe.clone();
    let addr = serve(settings, greeter).await;
    let mut client = client(addr).await;

    let started = Instant::now();
    let status = client.say_hello(hello("slow:2000")).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
    assert!(started.elapsed() < Duration::from_millis(1500));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(probe.cancelled(), 1);
}

/// Relays `SayHello` to an upstream Greeter through a boost-rpc client.
struct Relay {
    upstream: boost_test_proto::greeter_client::GreeterClient<boost_rpc::client::Client>,
}

#[tonic::async_trait]
impl boost_test_proto::greeter_server::Greeter for Relay {
    async fn say_hello(
        &self,
        request: tonic::Request<boost_test_proto::HelloRequest>,
    ) -> Result<tonic::Response<boost_test_proto::HelloReply>, tonic::Status> {
        let mut upstream = self.upstream.clone();
        upstream.say_hello(request.into_inner()).await
    }
}

#[tokio::test]
async fn outbound_boost_rpc_calls_inherit_the_inbound_deadline() {
    // Upstream reports the deadline it was given.
    let upstream_addr = serve(ServerSettings::default(), TestGreeter::default()).await;
    let mut client_settings =
        boost_rpc::client::ClientSettings::with_endpoints([format!("http://{upstream_addr}")]);
    client_settings.timeout = Duration::from_secs(10); // far longer than the caller's budget
    let upstream = boost_test_proto::greeter_client::GreeterClient::new(
        boost_rpc::client("upstream", &client_settings).unwrap(),
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_addr = listener.local_addr().unwrap();
    let settings = ServerSettings::default();
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(boost_rpc::server::stack(&settings))
            .add_service(boost_test_proto::greeter_server::GreeterServer::new(
                Relay { upstream },
            ))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let mut caller = client(relay_addr).await;
    let mut request = hello("deadline");
    request.set_timeout(Duration::from_millis(500));
    let reply = caller.say_hello(request).await.unwrap().into_inner();
    let left: u128 = reply
        .message
        .strip_prefix("Some(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("upstream saw no deadline: {}", reply.message))
        .parse()
        .unwrap();
    assert!(
        left <= 500,
        "upstream got {left} ms, more than the caller's 500 ms"
    );
}
