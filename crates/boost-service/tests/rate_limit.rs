//! Rate limits per key, configured in the kit's sections
//! (`[grpc.server.rate_limit]`, `[http.rate_limit]`): a key over its rate is
//! refused with a retry hint while another key is served, requests without
//! a key share the `default` bucket, and new keys past `max_keys` share the
//! `overflow` bucket (the key set stays bounded).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use axum::Router;
use axum::routing::get;
use boost_service::{NoSettings, Service};
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// Each bucket's size: that many calls always pass first.
const BURST: u32 = 5;
/// Calls made past the burst; at 1/s, all but about one per elapsed second
/// are refused.
const EXTRA: u32 = 30;

struct Hello;

#[tonic::async_trait]
impl Greeter for Hello {
    async fn say_hello(
        &self,
        request: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
        Ok(tonic::Response::new(HelloReply {
            message: format!("hello {}", request.into_inner().name),
        }))
    }
}

fn config(section: &str, max_keys: u32) -> boost_config::Loaded<boost_service::Config<NoSettings>> {
    let mut args = Vec::new();
    let sets = [
        "admin.listen=127.0.0.1:0".to_owned(),
        "grpc.listen=127.0.0.1:0".to_owned(),
        "http.listen=127.0.0.1:0".to_owned(),
        "lifecycle.drain_delay=0s".to_owned(),
        format!("{section}.enabled=true"),
        format!("{section}.key=header"),
        format!("{section}.header=x-tenant"),
        format!("{section}.per_second=1"),
        format!("{section}.burst={BURST}"),
        format!("{section}.max_keys={max_keys}"),
    ];
    for set in sets {
        args.extend(["--set".to_owned(), set]);
    }
    boost_config::Loader::new("rate-limit-test")
        .dir("no/such/dir")
        .env_vars([("APP_ENV", "")])
        .args(args)
        .load()
        .unwrap()
}

/// What one key's burst and extra calls got: (served, refused), and the
/// time they took.
struct Tally {
    served: u32,
    refused: Vec<tonic::Status>,
    elapsed_secs: u64,
}

async fn greet(
    client: &mut GreeterClient<tonic::transport::Channel>,
    tenant: Option<&str>,
) -> Result<(), tonic::Status> {
    let mut request = tonic::Request::new(HelloRequest { name: "ada".into() });
    if let Some(tenant) = tenant {
        request
            .metadata_mut()
            .insert("x-tenant", tenant.parse().unwrap());
    }
    client.say_hello(request).await.map(|_| ())
}

async fn burst_and_more(
    client: &mut GreeterClient<tonic::transport::Channel>,
    tenant: Option<&str>,
) -> Tally {
    let start = Instant::now();
    let mut tally = Tally {
        served: 0,
        refused: Vec::new(),
        elapsed_secs: 0,
    };
    for _ in 0..BURST + EXTRA {
        match greet(client, tenant).await {
            Ok(()) => tally.served += 1,
            Err(status) => tally.refused.push(status),
        }
    }
    tally.elapsed_secs = start.elapsed().as_secs();
    tally
}

/// The burst passed, and past it at most one call per second (plus one).
fn assert_limited(tally: &Tally, bucket: &str) {
    assert!(tally.served >= BURST, "the burst is always served");
    let allowed = BURST + 1 + u32::try_from(tally.elapsed_secs).unwrap();
    assert!(
        tally.served <= allowed,
        "{} served in {} s",
        tally.served,
        tally.elapsed_secs
    );
    let refused = tally.refused.first().expect("some calls refused");
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert!(
        refused.message().contains(&format!("({bucket} bucket)")),
        "{}",
        refused.message()
    );
    let pushback: u64 = refused
        .metadata()
        .get("grpc-retry-pushback-ms")
        .expect("a retry hint")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=1000).contains(&pushback), "{pushback} ms at 1/s");
}

#[tokio::test]
async fn grpc_key_over_its_rate_is_refused_with_pushback_while_another_key_is_served() {
    let running = Service::without_telemetry(config("grpc.server.rate_limit", 1000))
        .handle_signals(false)
        .grpc(GreeterServer::new(Hello))
        .start()
        .await
        .unwrap();
    let url = format!("http://{}", running.grpc_addr().unwrap());
    let channel = tonic::transport::Endpoint::from_shared(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = GreeterClient::new(channel.clone());

    let acme = burst_and_more(&mut client, Some("acme")).await;
    assert_limited(&acme, "key");
    // Another key has its own full bucket.
    for _ in 0..BURST {
        greet(&mut client, Some("globex")).await.unwrap();
    }
    // Without the header: the shared default bucket, limited the same way.
    let anonymous = burst_and_more(&mut client, None).await;
    assert_limited(&anonymous, "default");
    // Health checks are never limited.
    let mut health = HealthClient::new(channel);
    for _ in 0..BURST * 3 {
        health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn grpc_new_keys_past_max_keys_share_the_overflow_bucket() {
    let running = Service::without_telemetry(config("grpc.server.rate_limit", 3))
        .handle_signals(false)
        .grpc(GreeterServer::new(Hello))
        .start()
        .await
        .unwrap();
    let url = format!("http://{}", running.grpc_addr().unwrap());
    let mut client = GreeterClient::connect(url).await.unwrap();
    // Three keys fill the set; each keeps calling within its burst.
    for tenant in ["t0", "t1", "t2"] {
        greet(&mut client, Some(tenant)).await.unwrap();
    }
    // Every further key lands in one shared bucket: many distinct keys,
    // no more state, and past the burst they are refused together.
    let start = Instant::now();
    let mut served = 0u32;
    let mut overflow = None;
    for i in 0..(BURST + EXTRA) {
        match greet(&mut client, Some(&format!("new-{i}"))).await {
            Ok(()) => served += 1,
            Err(status) => overflow = overflow.or(Some(status)),
        }
    }
    let elapsed = u32::try_from(start.elapsed().as_secs()).unwrap();
    assert!(
        served <= BURST + 1 + elapsed,
        "{served} distinct new keys served"
    );
    let refused = overflow.expect("new keys were limited together");
    assert!(
        refused.message().contains("(overflow bucket)"),
        "{}",
        refused.message()
    );
    // The keys already tracked keep their own buckets.
    greet(&mut client, Some("t0")).await.unwrap();
}

#[tokio::test]
async fn http_key_over_its_rate_gets_429_with_retry_after_while_another_key_is_served() {
    let routes = Router::new().route("/v1/ping", get(|| async { "pong" }));
    let running = Service::without_telemetry(config("http.rate_limit", 1000))
        .handle_signals(false)
        .http(routes)
        .start()
        .await
        .unwrap();
    let url = format!("http://{}/v1/ping", running.http_addr().unwrap());
    let http = reqwest::Client::new();
    let get = |tenant: Option<&'static str>| {
        let mut request = http.get(&url);
        if let Some(tenant) = tenant {
            request = request.header("x-tenant", tenant);
        }
        request.send()
    };

    for tenant in [Some("acme"), None] {
        let start = Instant::now();
        let mut served = 0u32;
        let mut refused = None;
        for _ in 0..BURST + EXTRA {
            let response = get(tenant).await.unwrap();
            match response.status().as_u16() {
                200 => served += 1,
                429 => refused = refused.or(Some(response)),
                other => panic!("unexpected status {other}"),
            }
        }
        let elapsed = u32::try_from(start.elapsed().as_secs()).unwrap();
        assert!(
            served >= BURST && served <= BURST + 1 + elapsed,
            "{served} served"
        );
        let refused = refused.expect("some requests refused");
        assert_eq!(
            refused.headers()["retry-after"],
            "1",
            "whole seconds, rounded up"
        );
        assert_eq!(
            refused.headers()["content-type"],
            "application/problem+json"
        );
        let bucket = if tenant.is_some() { "key" } else { "default" };
        let body = refused.text().await.unwrap();
        assert!(body.contains(&format!("({bucket} bucket)")), "{body}");
        if tenant.is_some() {
            // Another key is served meanwhile.
            assert_eq!(get(Some("globex")).await.unwrap().status(), 200);
        }
    }
}

#[test]
fn bad_rate_limit_settings_are_refused_at_load_under_their_keys() {
    let error = boost_config::Loader::new("rate-limit-test")
        .dir("no/such/dir")
        .env_vars([("APP_ENV", "")])
        .args([
            "--set",
            "grpc.server.rate_limit.per_second=0",
            "--set",
            "http.rate_limit.key=header",
        ])
        .load::<boost_service::Config<NoSettings>>()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("grpc.server.rate_limit.per_second"),
        "{error}"
    );
    assert!(error.contains("http.rate_limit.header"), "{error}");
}
