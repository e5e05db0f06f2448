//! Panics, overload, handler errors and oversized requests: the server stays
//! up and answers with the right code, and never leaks internals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod server_support;

use std::time::{Duration, Instant};

use boost_rpc::server::ServerSettings;
use server_support::{TestGreeter, client, hello, serve};
use tonic_types::StatusExt;

#[tokio::test]
async fn panicking_handler_answers_internal_without_the_panic_message() {
    let addr = serve(ServerSettings::default(), TestGreeter::default()).await;
    let mut client = client(addr).await;

    let status = client.say_hello(hello("panic")).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Internal);
    assert_eq!(status.message(), "internal error");
    assert!(!format!("{status:?}").contains("hunter2"));

    // The connection and the server survive.
    let reply = client.say_hello(hello("ada")).await.unwrap();
    assert_eq!(reply.into_inner().message, "hello ada");
}

#[tokio::test]
async fn over_the_concurrency_limit_calls_are_refused_at_once() {
    let mut settings = ServerSettings::default();
    settings.concurrency_limit = 4;
    let addr = serve(settings, TestGreeter::default()).await;
    let client = client(addr).await;

    let calls = (0..64).map(|_| {
        let mut client = client.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = client.say_hello(hello("slow:1500")).await;
            (result.map(|r| r.into_inner().message), started.elapsed())
        })
    });
    let results = futures::future::join_all(calls).await;

    let mut ok = 0;
    let mut refused = 0;
    for result in results {
        match result.unwrap() {
            (Ok(message), took) => {
                assert_eq!(message, "slept");
                assert!(took >= Duration::from_millis(1400));
                ok += 1;
            }
            (Err(status), took) => {
                assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
                assert!(took < Duration::from_millis(750), "refusal took {took:?}");
                refused += 1;
            }
        }
    }
    assert_eq!(ok, 4, "exactly the limit is admitted");
    assert_eq!(refused, 60);
}

#[tokio::test]
async fn handler_error_carries_code_reason_and_error_info() {
    boost_rpc::set_error_domain("greeter.test");
    let addr = serve(ServerSettings::default(), TestGreeter::default()).await;
    let mut client = client(addr).await;

    let status = client.say_hello(hello("fail")).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert_eq!(status.message(), "nobody by that name");
    let info = status
        .get_details_error_info()
        .expect("google.rpc.ErrorInfo");
    assert_eq!(info.reason, "NOBODY");
    assert_eq!(info.domain, "greeter.test");
}

#[tokio::test]
async fn request_larger_than_the_limit_is_refused() {
    let mut settings = ServerSettings::default();
    settings.max_request_size = boost_config::ByteSize::b(1024);
    let addr = serve(settings, TestGreeter::default()).await;
    let mut client = client(addr).await;

    let status = client
        .say_hello(hello(&"x".repeat(4096)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    // Small requests still pass.
    assert!(client.say_hello(hello("ada")).await.is_ok());
}

/// Serves `greeter` as `boost-service` does: the stack, and tonic's own
/// per-message limits from the same settings (`MessageLimits`).
async fn serve_with_message_limits<G: boost_test_proto::greeter_server::Greeter>(
    settings: ServerSettings,
    greeter: G,
) -> std::net::SocketAddr {
    use boost_test_proto::greeter_server::GreeterServer;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let server = GreeterServer::new(greeter)
        .max_decoding_message_size(settings.max_request_message_bytes())
        .max_encoding_message_size(settings.max_response_message_bytes());
    let router = settings
        .apply(tonic::transport::Server::builder())
        .layer(boost_rpc::server::stack(&settings))
        .add_service(server);
    tokio::spawn(router.serve_with_incoming(incoming));
    addr
}

#[tokio::test]
async fn a_message_over_tonics_per_message_limit_is_resource_exhausted_as_documented() {
    let mut settings = ServerSettings::default();
    // Over one HTTP/2 frame (16 KiB), so that tonic reads the message's
    // length before the stack has seen more than the limit.
    settings.max_request_size = boost_config::ByteSize::kib(64);
    let addr = serve_with_message_limits(settings, TestGreeter::default()).await;
    let mut client = client(addr).await;

    let status = client
        .say_hello(hello(&"x".repeat(100_000)))
        .await
        .unwrap_err();
    // tonic's decoder says OUT_OF_RANGE; the docs (and grpc-go) say RESOURCE_EXHAUSTED.
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(client.say_hello(hello("ada")).await.is_ok());
}

/// Echoes the name into a raw `tonic::Status`, as a careless handler would.
struct Echoing;

#[tonic::async_trait]
impl boost_test_proto::greeter_server::Greeter for Echoing {
    async fn say_hello(
        &self,
        request: tonic::Request<boost_test_proto::HelloRequest>,
    ) -> Result<tonic::Response<boost_test_proto::HelloReply>, tonic::Status> {
        let name = request.into_inner().name;
        Err(tonic::Status::with_details(
            tonic::Code::NotFound,
            format!("nobody named {name}"),
            name.into_bytes().into(),
        ))
    }
}

#[tokio::test]
async fn a_handlers_status_echoing_a_huge_input_is_bounded_on_the_wire() {
    let mut settings = ServerSettings::default();
    settings.max_request_size = boost_config::ByteSize::mib(2);
    let addr = serve_with_message_limits(settings, Echoing).await;
    // A client that accepts large headers, to see what the server sends.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .http2_max_header_list_size(16 << 20)
        .connect()
        .await
        .unwrap();
    let mut client = boost_test_proto::greeter_client::GreeterClient::new(channel)
        .max_decoding_message_size(4 << 20)
        .max_encoding_message_size(4 << 20);
    let status = client
        .say_hello(hello(&"ü".repeat(1 << 19)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound, "{:?}", status.code());
    assert!(
        status.message().len() <= 1024,
        "{} bytes",
        status.message().len()
    );
    assert!(status.message().starts_with("nobody named üü"));
    assert!(
        status.message().ends_with("(1048589 bytes)"),
        "{}",
        status.message()
    );
    assert!(status.details().is_empty(), "1 MiB of details dropped");
}

#[tokio::test]
async fn a_connection_is_told_the_stream_limit_so_one_client_cannot_open_unbounded_calls() {
    // tonic hands an unset limit to hyper as "none": without a default the
    // server advertised no SETTINGS_MAX_CONCURRENT_STREAMS at all.
    for (limit, expected) in [(None, 200), (Some(7), 7)] {
        let mut settings = ServerSettings::default();
        if let Some(limit) = limit {
            settings.http2.max_concurrent_streams = limit;
        }
        let addr = serve(settings, TestGreeter::default()).await;
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (client, mut connection) = h2::client::handshake(tcp).await.unwrap();
        // The server's SETTINGS arrive once the connection is driven.
        let deadline = Instant::now() + Duration::from_secs(10);
        while connection.max_concurrent_send_streams() == usize::MAX {
            assert!(
                Instant::now() < deadline,
                "the server advertised no stream limit"
            );
            let _ = tokio::time::timeout(Duration::from_millis(20), &mut connection).await;
        }
        assert_eq!(connection.max_concurrent_send_streams(), expected);
        drop(client);
    }
}

#[tokio::test]
async fn a_call_whose_body_never_comes_is_ended_and_gives_its_slot_back() {
    // A peer that sends a unary call's HEADERS and then nothing, with no
    // `grpc-timeout`: without the idle bound it held its concurrency slot for
    // as long as the connection lived.
    let mut settings = ServerSettings::default();
    settings.concurrency_limit = 1;
    settings.request_body_idle_timeout = Duration::from_secs(1);
    let addr = serve(settings, TestGreeter::default()).await;

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (h2, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut h2 = h2.ready().await.unwrap();
    let request = http::Request::post(format!("http://{addr}/hello.v1.Greeter/SayHello"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let started = Instant::now();
    // `false`: the stream stays open and no DATA ever follows.
    let (response, _silent_body) = h2.send_request(request, false).unwrap();

    // While it holds the only slot, a real call is refused.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut client = client(addr).await;
    let refused = client.say_hello(hello("ada")).await.unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );

    // The silent call ends with DEADLINE_EXCEEDED after its idle timeout, not never.
    let response = tokio::time::timeout(Duration::from_secs(20), response)
        .await
        .expect("the silent call was never answered")
        .unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "ended after {took:?}");
    let (parts, mut body) = response.into_parts();
    let code = match parts.headers.get("grpc-status") {
        Some(code) => code.to_str().unwrap().to_owned(),
        None => {
            while body.data().await.is_some() {}
            let trailers = body.trailers().await.unwrap().unwrap();
            trailers["grpc-status"].to_str().unwrap().to_owned()
        }
    };
    assert_eq!(code, "4", "DEADLINE_EXCEEDED");

    // The slot is free again.
    let reply = client.say_hello(hello("ada")).await.unwrap();
    assert_eq!(reply.into_inner().message, "hello ada");
}

#[tokio::test]
async fn a_client_stream_that_keeps_sending_is_not_cut_by_the_idle_bound() {
    // The bound is on silence, not on a call's length: a body that sends a
    // frame more often than the bound runs past it.
    use prost::Message;
    let mut settings = ServerSettings::default();
    settings.request_body_idle_timeout = Duration::from_secs(1);
    let addr = serve(settings, TestGreeter::default()).await;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (h2, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut h2 = h2.ready().await.unwrap();
    let request = http::Request::post(format!("http://{addr}/hello.v1.Greeter/SayHello"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (response, mut body) = h2.send_request(request, false).unwrap();
    let message = boost_test_proto::HelloRequest { name: "ada".into() }.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    // The message in pieces, one every 400 ms: 2.4 s in all, over twice the bound.
    let pieces: Vec<Vec<u8>> = frame
        .chunks(frame.len().div_ceil(6))
        .map(<[u8]>::to_vec)
        .collect();
    let last = pieces.len() - 1;
    for (i, piece) in pieces.into_iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(400)).await;
        body.send_data(piece.into(), i == last).unwrap();
    }
    let response = tokio::time::timeout(Duration::from_secs(20), response)
        .await
        .expect("no answer")
        .unwrap();
    let (parts, mut body) = response.into_parts();
    assert!(parts.headers.get("grpc-status").is_none(), "{parts:?}");
    while body.data().await.is_some() {}
    let trailers = body.trailers().await.unwrap().unwrap();
    assert_eq!(trailers["grpc-status"], "0");
}
