//! The documented testing pattern against a real tonic server: a current-thread runtime plus
//! `Capture::set_default` captures the server's spans and logs, and the trace context survives
//! inject → gRPC metadata → extract.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use boost_tracing::OpenTelemetrySpanExt as _;
use boost_tracing::propagation::{extract_metadata, inject_metadata};
use boost_tracing::testing::Capture;
use tokio_stream::wrappers::TcpListenerStream;
use tracing::Instrument as _;

struct Hello;

#[tonic::async_trait]
impl Greeter for Hello {
    async fn say_hello(
        &self,
        request: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
        let span = tracing::info_span!("SayHello", otel.kind = "server");
        span.set_parent(extract_metadata(request.metadata()))
            .unwrap();
        let name = request.into_inner().name;
        async move {
            tracing::info!(name = %name, "greeting");
            Ok(tonic::Response::new(HelloReply {
                message: format!("hello {name}"),
            }))
        }
        .instrument(span)
        .await
    }
}

#[tokio::test]
async fn server_span_is_a_child_of_the_client_span_across_grpc() {
    let capture = Capture::new();
    let _guard = capture.set_default();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(GreeterServer::new(Hello))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );

    let mut client = GreeterClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let call = tracing::info_span!("client_call", otel.kind = "client");
    let reply = async {
        let mut request = tonic::Request::new(HelloRequest { name: "ada".into() });
        inject_metadata(&tracing::Span::current().context(), request.metadata_mut());
        client.say_hello(request).await
    }
    .instrument(call.clone())
    .await
    .unwrap();
    assert_eq!(reply.into_inner().message, "hello ada");
    drop(call);

    let server_span = capture
        .wait_for_span("SayHello", Duration::from_secs(5))
        .await
        .unwrap();
    let client_span = capture.span_named("client_call").unwrap();
    assert_eq!(server_span.trace_id, client_span.trace_id);
    assert_eq!(server_span.parent_span_id, Some(client_span.span_id));
    assert!(server_span.parent_is_remote);
    assert_eq!(server_span.kind, opentelemetry::trace::SpanKind::Server);

    let event = capture.event_with_message("greeting").unwrap();
    assert_eq!(event.fields["name"], "ada");
    assert_eq!(event.span_id, Some(server_span.span_id));
    server.abort();
}
