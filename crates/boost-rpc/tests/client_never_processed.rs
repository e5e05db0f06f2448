//! Issue 24: a call that the server shows it never processed — HTTP/2
//! `GOAWAY` above its stream, `RST_STREAM(REFUSED_STREAM)` — is retried like
//! an unsent UNAVAILABLE (whatever the method), never surfaced as
//! `RESOURCE_EXHAUSTED` / `INTERNAL` "h2 protocol error".
//!
//! The upstream is a bare h2 server, so the test decides exactly which frames
//! the client sees. No method is marked idempotent: only "unsent" allows the
//! retry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use boost_rpc::client::ClientSettings;
use boost_test_proto::HelloRequest;
use boost_test_proto::greeter_client::GreeterClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the first connection does to the first stream.
#[derive(Clone, Copy)]
enum First {
    /// `RST_STREAM(REFUSED_STREAM)` on it, then serve normally.
    Refuse,
    /// `GOAWAY(last_stream_id = 0, ENHANCE_YOUR_CALM)` once its HEADERS
    /// arrived (what hyper's rapid-reset guard sends), then close; later
    /// connections are served normally.
    GoAway,
}

/// One gRPC length-prefixed message.
fn grpc_frame(message: &impl prost::Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&body);
    frame
}

/// Starts the upstream; returns its URL and a count of streams it answered.
async fn upstream(first: First) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    tokio::spawn(async move {
        let mut connection_no = 0;
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            connection_no += 1;
            let count = count.clone();
            let refuse_first = matches!(first, First::Refuse) && connection_no == 1;
            if matches!(first, First::GoAway) && connection_no == 1 {
                tokio::spawn(go_away_at_first_headers(socket));
            } else {
                tokio::spawn(serve(socket, refuse_first, count));
            }
        }
    });
    (url, answered)
}

/// Reads the client preface and frames until a HEADERS frame, then sends
/// SETTINGS and a GOAWAY that processed no stream, and closes.
async fn go_away_at_first_headers(mut socket: TcpStream) {
    let mut buf = vec![0u8; 24];
    socket.read_exact(&mut buf).await.unwrap();
    loop {
        let mut header = [0u8; 9];
        if socket.read_exact(&mut header).await.is_err() {
            return;
        }
        let len =
            usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
        let mut payload = vec![0u8; len];
        socket.read_exact(&mut payload).await.unwrap();
        if header[3] == 0x1 {
            break; // HEADERS
        }
    }
    let settings = [0, 0, 0, 0x4, 0, 0, 0, 0, 0];
    let go_away = [
        0, 0, 8, 0x7, 0, 0, 0, 0, 0, // GOAWAY on stream 0, 8 bytes
        0, 0, 0, 0, // last-stream-id 0: nothing was processed
        0, 0, 0, 0xb, // ENHANCE_YOUR_CALM
    ];
    socket.write_all(&settings).await.unwrap();
    socket.write_all(&go_away).await.unwrap();
    socket.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
}

/// Serves every stream with a `HelloReply`, except that the first one is
/// refused when `refuse_first`.
async fn serve(socket: TcpStream, refuse_first: bool, answered: Arc<AtomicUsize>) {
    let mut connection = h2::server::handshake(socket).await.unwrap();
    let mut first = refuse_first;
    while let Some(Ok((request, mut respond))) = connection.accept().await {
        if std::mem::take(&mut first) {
            respond.send_reset(h2::Reason::REFUSED_STREAM);
            continue;
        }
        answered.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let mut body = request.into_body();
            while let Some(chunk) = body.data().await {
                let chunk = chunk.unwrap();
                let _ = body.flow_control().release_capacity(chunk.len());
            }
            let response = http::Response::builder()
                .status(200)
                .header("content-type", "application/grpc")
                .body(())
                .unwrap();
            let mut send = respond.send_response(response, false).unwrap();
            let reply = boost_test_proto::HelloReply {
                message: "hi".into(),
            };
            send.send_data(grpc_frame(&reply).into(), false).unwrap();
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", "0".parse().unwrap());
            send.send_trailers(trailers).unwrap();
        });
    }
}

async fn call(url: String) -> Result<String, tonic::Status> {
    let settings = ClientSettings::with_endpoints([url]);
    let client = boost_rpc::client("greeter", &settings).unwrap();
    GreeterClient::new(client)
        .say_hello(HelloRequest { name: "a".into() })
        .await
        .map(|r| r.into_inner().message)
}

#[tokio::test]
async fn a_refused_stream_is_retried_even_for_a_method_not_marked_idempotent() {
    let (url, answered) = upstream(First::Refuse).await;
    let reply = call(url).await;
    assert_eq!(reply.unwrap(), "hi");
    assert_eq!(answered.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_stream_above_goaways_last_stream_id_is_retried_not_resource_exhausted() {
    let (url, answered) = upstream(First::GoAway).await;
    let reply = call(url).await;
    assert_eq!(reply.unwrap(), "hi", "retried on a new connection");
    assert_eq!(answered.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_plain_tonic_channels_goaway_status_classifies_as_unsent() {
    let (url, _) = upstream(First::GoAway).await;
    let channel = tonic::transport::Endpoint::from_shared(url)
        .unwrap()
        .connect_lazy();
    let status = GreeterClient::new(channel)
        .say_hello(HelloRequest { name: "a".into() })
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        tonic::Code::ResourceExhausted,
        "tonic's view"
    );
    let err = boost_rpc::RpcError::from(status);
    assert!(err.is_unsent() && err.is_unavailable(), "{err}");
    assert!(err.to_string().contains("GOAWAY"), "{err}");
}

#[test]
fn a_bare_h2_reason_says_nothing_about_processing() {
    // A hyper error is not constructible here; an h2 `Reason` alone (no
    // GOAWAY, no reset) says nothing about processing and stays as tonic
    // maps it.
    let err =
        boost_rpc::RpcError::from_boxed(Box::new(h2::Error::from(h2::Reason::REFUSED_STREAM)));
    assert!(!err.is_unsent(), "{err}");
}
