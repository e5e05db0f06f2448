//! No ordering trap: telemetry starts when the `Service` is made, so a
//! boost-rpc client and a boost-cache cache built *before* `run()` — and metric
//! handles a handler takes when built — record into the real recorder and
//! show on `/metrics`. Installs the global subscriber and recorder, hence a
//! binary of its own with one test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use boost_config::{Loader, Validate};
use boost_rpc::client::ClientSettings;
use boost_service::{Config, Service, ServiceSettings};
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use serde::{Deserialize, Serialize};

/// The service's own settings: one upstream client.
#[derive(Debug, Default, Serialize, Deserialize, Validate, boost_config::Document)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    upstream: ClientSettings,
}

impl ServiceSettings for Settings {}

/// Counts greetings with a handle taken when it is built.
struct CountingGreeter {
    greetings: metrics::Counter,
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

/// A plain tonic server for the client to call.
async fn upstream() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let greeter = CountingGreeter {
        greetings: metrics::Counter::noop(),
    };
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(GreeterServer::new(greeter))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    addr
}

#[tokio::test]
async fn a_client_built_before_run_shows_its_call_durations_on_metrics() {
    let upstream = upstream().await;
    let loaded = Loader::new("no-ordering-trap")
        .dir("no/such/dir")
        .env_vars([("APP_ENV", "")])
        .args([
            "--set",
            "admin.listen=127.0.0.1:0",
            "--set",
            "grpc.listen=127.0.0.1:0",
            "--set",
            "lifecycle.drain_delay=0s",
            "--set",
            &format!("upstream.endpoints=http://{upstream}"),
        ])
        .load::<Config<Settings>>()
        .unwrap();
    let service = Service::new(loaded).unwrap().handle_signals(false);

    // Built before run(), from the settings, as a service's main does.
    let client = boost_rpc::client("upstream", &service.settings().upstream).unwrap();
    let cache: boost_cache::Cache<String, String> =
        boost_cache::Cache::new(boost_cache::CacheSettings::new("greetings")).unwrap();
    let handler = CountingGreeter {
        greetings: metrics::counter!("test_greetings_total"),
    };

    let running = service
        .grpc(GreeterServer::new(handler))
        .start()
        .await
        .unwrap();
    let cached = cache
        .get_or_load("ada".to_owned(), || async {
            Ok::<_, std::io::Error>(Some("en".to_owned()))
        })
        .await
        .unwrap();
    assert_eq!(cached.as_deref(), Some("en"));
    let mut upstream = GreeterClient::new(client);
    upstream
        .say_hello(HelloRequest { name: "ada".into() })
        .await
        .unwrap();
    let mut own = GreeterClient::connect(format!("http://{}", running.grpc_addr().unwrap()))
        .await
        .unwrap();
    for _ in 0..3 {
        own.say_hello(HelloRequest { name: "bo".into() })
            .await
            .unwrap();
    }
    // Paths a scanner makes up: one `_OTHER` series, never their names.
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", running.grpc_addr().unwrap()))
            .unwrap()
            .connect()
            .await
            .unwrap();
    for path in ["/scan.v1.Scanner/Probe", "/admin.php/x"] {
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.unwrap();
        let status = grpc
            .unary::<HelloRequest, HelloReply, _>(
                tonic::Request::new(HelloRequest::default()),
                http::uri::PathAndQuery::from_static(path),
                tonic_prost::ProstCodec::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unimplemented, "{path}");
    }

    let body = reqwest::get(format!("http://{}/metrics", running.admin_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let client_calls = body
        .lines()
        .find(|line| {
            line.starts_with("rpc_client_call_duration_seconds_count")
                && line.contains("client=\"upstream\"")
                && line.contains("rpc_status_code=\"OK\"")
        })
        .unwrap_or_else(|| panic!("no client call durations on /metrics:\n{body}"));
    assert!(client_calls.ends_with(" 1"), "{client_calls}");
    assert!(body.contains("test_greetings_total 3"), "{body}");
    assert!(
        body.lines()
            .any(|l| l.starts_with("rpc_server_call_duration_seconds_count")
                && l.contains("rpc_method=\"_OTHER\"")
                && l.ends_with(" 2")),
        "made-up paths are labelled _OTHER:\n{body}"
    );
    assert!(
        !body.contains("scan.v1.Scanner") && !body.contains("admin.php"),
        "{body}"
    );
    assert!(
        body.contains("rpc_method=\"hello.v1.Greeter/SayHello\""),
        "a service without a descriptor set keeps its methods' names:\n{body}"
    );
    let cache_miss = body
        .lines()
        .find(|l| l.starts_with("cache_requests_total") && l.contains("cache=\"greetings\""));
    assert!(
        cache_miss.is_some(),
        "a cache built before run() exports its metrics:\n{body}"
    );
    assert!(
        body.lines()
            .any(|l| l.starts_with("rpc_client_endpoints") && l.contains("client=\"upstream\"")),
        "the client's endpoint gauges, taken when it was built:\n{body}"
    );
    assert!(body.contains("rpc_server_call_duration_seconds"), "{body}");

    running.shutdown_handle().trigger();
    tokio::time::timeout(Duration::from_secs(20), running.wait())
        .await
        .unwrap()
        .unwrap();
}
