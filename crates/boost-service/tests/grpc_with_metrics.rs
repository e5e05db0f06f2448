//! `grpc_with` builds the handlers after the metrics recorder is installed, so
//! metric handles they take when built are exported. Installs boost-metrics'
//! recorder process-wide, hence a binary of its own with one test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use boost_metrics::MetricsSettings;
use boost_service::grpc::{GrpcServer, GrpcSettings};
use boost_service::{LifecycleSettings, Service};
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use common::{any_port, get, identity};
use tonic::service::Routes;

/// Counts greetings with a handle taken when it is built, as boost-rpc
/// clients and boost-cache caches do.
struct CountingGreeter {
    greetings: metrics::Counter,
}

impl CountingGreeter {
    fn new() -> Self {
        Self {
            greetings: metrics::counter!("test_greetings_total"),
        }
    }
}

#[tonic::async_trait]
impl Greeter for CountingGreeter {
    async fn say_hello(
        &self,
        request: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
        self.greetings.increment(1);
        let name = request.into_inner().name;
        Ok(tonic::Response::new(HelloReply {
            message: format!("hello {name}"),
        }))
    }
}

#[tokio::test]
async fn handlers_built_by_grpc_with_export_their_metrics() {
    let bound: Arc<Mutex<Option<std::net::SocketAddr>>> = Arc::default();
    let bound_in = bound.clone();
    let running = Service::builder(identity("grpc-with-metrics"))
        .without_telemetry()
        .metrics(MetricsSettings::default())
        .handle_signals(false)
        .admin(any_port())
        .lifecycle(LifecycleSettings::default().with_drain_delay(Duration::ZERO))
        .grpc_with(move || {
            let routes = Routes::new(GreeterServer::new(CountingGreeter::new()));
            let settings = GrpcSettings::new("127.0.0.1:0".parse().unwrap());
            let server = GrpcServer::new(settings, routes).bind()?;
            *bound_in.lock().unwrap() = server.local_addr();
            Ok(server)
        })
        .start()
        .await
        .unwrap();

    let addr = bound.lock().unwrap().unwrap();
    let mut client = GreeterClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    for _ in 0..3 {
        client
            .say_hello(HelloRequest { name: "ada".into() })
            .await
            .unwrap();
    }

    let body = get(running.admin_addr(), "/metrics")
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("test_greetings_total 3"), "{body}");
    // The server stack's metrics are there too.
    assert!(body.contains("rpc_server_call_duration_seconds"), "{body}");

    running.shutdown_handle().trigger();
    tokio::time::timeout(Duration::from_secs(20), running.wait())
        .await
        .unwrap()
        .unwrap();
}
