//! `GET /upstreams`: a service whose client calls an upstream that fails
//! shows the endpoint ejected, the throttle rejecting and the retry budget
//! spent; an HTTP client is listed beside it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use boost_config::ServiceIdentity;
use boost_rpc::client::ClientSettings;
use boost_service::{AdminSettings, LifecycleSettings, RunningService, ServiceBuilder};
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use serde_json::Value;

/// Refuses every call with UNAVAILABLE.
struct Failing;

#[tonic::async_trait]
impl Greeter for Failing {
    async fn say_hello(
        &self,
        _request: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
        Err(tonic::Status::unavailable("overloaded"))
    }
}

async fn failing_upstream() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(GreeterServer::new(Failing))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    addr
}

async fn service() -> RunningService {
    ServiceBuilder::new(ServiceIdentity::new("upstreams-test", "1.0.0"))
        .without_telemetry()
        .handle_signals(false)
        .admin(AdminSettings::new("127.0.0.1:0".parse().unwrap()))
        .lifecycle(LifecycleSettings::default().with_drain_delay(Duration::ZERO))
        .start()
        .await
        .unwrap()
}

async fn upstreams(running: &RunningService) -> Vec<Value> {
    let url = format!("http://{}/upstreams", running.admin_addr());
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let body: Value = response.json().await.unwrap();
    body["upstreams"].as_array().unwrap().clone()
}

fn named<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|u| u["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed in {list:?}"))
}

#[tokio::test]
async fn upstreams_show_ejection_throttle_and_budget_of_a_failing_upstream() {
    let addr = failing_upstream().await;
    let running = service().await;

    let mut settings = ClientSettings::with_endpoints([format!("http://{addr}")]);
    settings.timeout = Duration::from_secs(5);
    settings.retry.idempotent_methods = vec!["hello.v1.Greeter/SayHello".into()];
    settings.retry.budget_min_per_sec = 1;
    settings.throttle.min_requests = 5;
    let client = boost_rpc::client("failing-profiles", &settings).unwrap();
    let http = boost_http::client::HttpClient::new(
        "partner",
        &boost_http::client::HttpClientSettings::with_base_urls(["http://127.0.0.1:9/v1"]),
    )
    .unwrap();

    // Before any call: ready, nothing rejected, the whole reserve available.
    let list = upstreams(&running).await;
    let before = named(&list, "failing-profiles");
    assert_eq!(before["kind"], "grpc");
    assert_eq!(before["target"], format!("http://{addr}"));
    let endpoint = &before["endpoints"][0];
    assert_eq!(endpoint["state"], "ready", "{before}");
    assert_eq!(endpoint["back_in_ms"], Value::Null);
    assert_eq!(before["throttle"]["reject_probability"], 0.0);
    assert_eq!(before["throttle"]["window_requests"], 0);
    assert_eq!(before["retry_budget"]["available"], 10, "1/s × 10 s");
    assert_eq!(before["retry_budget"]["withdrawals"], 0);
    let partner = named(&list, "partner");
    assert_eq!(partner["kind"], "http");
    assert_eq!(partner["endpoints"][0]["state"], "ready");
    assert_eq!(partner["throttle"], Value::Null);
    assert_eq!(
        partner["retry_budget"]["available"], 100,
        "the default reserve"
    );

    // 40 calls, all refused by the upstream (bounded: each fails at once).
    let mut greeter = GreeterClient::new(client.clone());
    for _ in 0..40 {
        let refused = greeter
            .say_hello(HelloRequest { name: "ada".into() })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unavailable);
    }

    let list = upstreams(&running).await;
    let after = named(&list, "failing-profiles");
    let endpoint = &after["endpoints"][0];
    assert_eq!(endpoint["state"], "ejected", "{after}");
    assert!(endpoint["back_in_ms"].as_u64().is_some(), "{endpoint}");
    assert!(endpoint["back_at"].as_str().unwrap().ends_with('Z'));
    assert!(
        endpoint["reason"].as_str().unwrap().contains("in a row"),
        "{endpoint}"
    );
    let throttle = &after["throttle"];
    assert!(
        throttle["window_requests"].as_u64().unwrap() >= 5,
        "{throttle}"
    );
    assert_eq!(throttle["window_accepts"], 0, "{throttle}");
    let p = throttle["reject_probability"].as_f64().unwrap();
    assert!(
        p > 0.5 && p < 1.0,
        "no accepts: most calls rejected, {throttle}"
    );
    let budget = &after["retry_budget"];
    assert!(budget["deposits"].as_u64().unwrap() >= 1, "{budget}");
    assert!(budget["withdrawals"].as_u64().unwrap() >= 1, "{budget}");
    assert!(
        budget["available"].as_u64().unwrap() < 10,
        "retries spent the reserve: {budget}"
    );

    // A dropped client leaves the list.
    drop((greeter, client, http));
    let list = upstreams(&running).await;
    assert!(
        !list
            .iter()
            .any(|u| u["name"] == "failing-profiles" || u["name"] == "partner"),
        "{list:?}"
    );
    drop(running);
}
