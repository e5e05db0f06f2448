//! Clients over TLS (issue 14): `https://` endpoints verified against a CA
//! bundle, mTLS with a client certificate that rotates, a server name for IP
//! endpoints and for DNS discovery, the balancer over TLS endpoints, and a
//! handshake bounded by `connect_timeout`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod tls_support;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use boost_rpc::RpcError;
use boost_rpc::client::{Client, ClientSettings, DnsSettings, Resolver};
use boost_test_proto::HelloRequest;
use boost_test_proto::greeter_client::GreeterClient;
use boost_tls::ClientTlsSettings;
use tls_support::{Ca, TlsUpstream, server_config, write};

fn hello() -> HelloRequest {
    HelloRequest { name: "ada".into() }
}

/// Settings for `endpoints` with `tls`, generous timeouts for a loaded machine.
fn settings(endpoints: &[String], tls: Option<ClientTlsSettings>) -> ClientSettings {
    let mut settings = ClientSettings::with_endpoints(endpoints.iter().cloned());
    settings.timeout = Duration::from_secs(10);
    settings.connect_timeout = Duration::from_secs(5);
    settings.tls = tls.unwrap_or_default();
    settings
}

fn trusting(dir: &Path, ca: &Ca) -> ClientTlsSettings {
    ClientTlsSettings::default().with_ca_file(write(dir, "ca.crt", &ca.pem))
}

async fn say_hello(client: &Client) -> Result<String, tonic::Status> {
    GreeterClient::new(client.clone())
        .say_hello(hello())
        .await
        .map(|r| r.into_inner().message)
}

#[tokio::test]
async fn an_https_endpoint_is_verified_against_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let upstream =
        TlsUpstream::start(server_config(&ca.leaf("server", &["127.0.0.1"]), None)).await;
    let client = boost_rpc::client(
        "greeter",
        &settings(&[upstream.url()], Some(trusting(dir.path(), &ca))),
    )
    .unwrap();
    for _ in 0..3 {
        assert_eq!(say_hello(&client).await.unwrap(), "hello ada");
    }
    assert_eq!(upstream.seen.calls(), 3);
    assert_eq!(
        upstream.seen.client_certs(),
        [None],
        "one connection, no client certificate"
    );
}

#[tokio::test]
async fn a_server_from_another_ca_is_refused_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let other = Ca::new("other CA");
    let upstream =
        TlsUpstream::start(server_config(&other.leaf("server", &["127.0.0.1"]), None)).await;
    let mut settings = settings(&[upstream.url()], Some(trusting(dir.path(), &ca)));
    settings.retry.max_attempts = 1;
    let client = boost_rpc::client("greeter", &settings).unwrap();
    let status = say_hello(&client).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    let text = format!("{status:?}");
    assert!(text.contains("TLS handshake"), "{text}");
    assert!(text.contains("UnknownIssuer"), "{text}");
    assert_eq!(upstream.seen.calls(), 0);
}

#[tokio::test]
async fn mtls_shows_the_client_certificate_and_a_client_without_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let upstream =
        TlsUpstream::start(server_config(&ca.leaf("server", &["127.0.0.1"]), Some(&ca))).await;

    let mut anonymous = settings(&[upstream.url()], Some(trusting(dir.path(), &ca)));
    anonymous.retry.max_attempts = 1;
    let client = boost_rpc::client("greeter", &anonymous).unwrap();
    let status = say_hello(&client).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("requires a client certificate"),
        "{status:?}"
    );
    assert_eq!(upstream.seen.calls(), 0);

    let identity = ca.leaf("hello-service", &["spiffe://test/hello-service"]);
    let (cert, key) = identity.write(dir.path(), "client");
    let tls = trusting(dir.path(), &ca).with_identity(cert, key);
    let client = boost_rpc::client("greeter", &settings(&[upstream.url()], Some(tls))).unwrap();
    assert_eq!(say_hello(&client).await.unwrap(), "hello ada");
    assert_eq!(upstream.seen.client_certs(), [Some(identity.der())]);
}

#[tokio::test]
async fn an_ip_endpoint_is_checked_against_server_name() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let upstream = TlsUpstream::start(server_config(
        &ca.leaf("server", &["profiles.internal"]),
        None,
    ))
    .await;

    // The certificate does not name 127.0.0.1.
    let mut by_ip = settings(&[upstream.url()], Some(trusting(dir.path(), &ca)));
    by_ip.retry.max_attempts = 1;
    let client = boost_rpc::client("greeter", &by_ip).unwrap();
    let error = format!("{:?}", say_hello(&client).await.unwrap_err());
    assert!(error.contains("not valid for name"), "{error}");

    let tls = trusting(dir.path(), &ca).with_server_name("profiles.internal");
    let client = boost_rpc::client("greeter", &settings(&[upstream.url()], Some(tls))).unwrap();
    assert_eq!(say_hello(&client).await.unwrap(), "hello ada");
}

#[tokio::test]
async fn the_balancer_spreads_calls_over_tls_endpoints_and_skips_a_dead_one() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let config = server_config(&ca.leaf("server", &["127.0.0.1"]), None);
    let a = TlsUpstream::start(config.clone()).await;
    let b = TlsUpstream::start(config).await;
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut settings = settings(
        &[a.url(), b.url(), format!("https://{dead}")],
        Some(trusting(dir.path(), &ca)),
    );
    settings.retry.idempotent_methods = vec!["hello.v1.Greeter/*".into()];
    let client = boost_rpc::client("greeter", &settings).unwrap();
    for _ in 0..60 {
        assert_eq!(say_hello(&client).await.unwrap(), "hello ada");
    }
    assert_eq!(a.seen.calls() + b.seen.calls(), 60);
    assert!(
        a.seen.calls() > 0 && b.seen.calls() > 0,
        "both endpoints serve"
    );
    let states = client.endpoints();
    let dead_state = states
        .iter()
        .find(|(key, _)| *key == dead.to_string())
        .map(|(_, state)| *state);
    assert_ne!(
        dead_state,
        Some(boost_rpc::client::EndpointState::Ready),
        "{states:?}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_the_handshake_fails_within_connect_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    // Accepts TCP connections and never speaks TLS.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let holding = held.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            holding.lock().unwrap().push(tcp);
        }
    });
    let mut settings = settings(
        &[format!("https://{addr}")],
        Some(trusting(dir.path(), &ca)),
    );
    settings.connect_timeout = Duration::from_millis(200);
    settings.timeout = Duration::from_secs(30);
    settings.retry.max_attempts = 1;
    let client = boost_rpc::client("greeter", &settings).unwrap();
    let started = Instant::now();
    let status = say_hello(&client).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    let text = format!("{:?}", RpcError::from(status));
    assert!(text.contains("connect_timeout"), "{text}");
    // Far below the 30 s call timeout: the handshake, not the call, timed out.
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
    assert!(!held.lock().unwrap().is_empty());
}

/// A resolver the test drives: it answers whatever was set last.
struct TestResolver(Mutex<Vec<SocketAddr>>);

impl Resolver for TestResolver {
    fn resolve<'a>(
        &'a self,
        _name: &'a str,
        _port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        let answer = self.0.lock().unwrap().clone();
        Box::pin(async move { Ok(answer) })
    }
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Discovered addresses are checked against `dns.name`; and a rotated
/// client certificate is what new connections show, while the ones already
/// open keep working.
#[tokio::test]
async fn discovered_endpoints_are_checked_against_the_dns_name_and_new_connections_show_a_rotated_certificate()
 {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let config = server_config(&ca.leaf("server", &["greeter.test"]), Some(&ca));
    let first = TlsUpstream::start(config.clone()).await;
    let resolver = Arc::new(TestResolver(Mutex::new(vec![first.addr])));

    let old = ca.leaf("hello-service", &["spiffe://test/hello-service/old"]);
    let new = ca.leaf("hello-service", &["spiffe://test/hello-service/new"]);
    let (cert, key) = old.write(dir.path(), "client");
    let mut dns = DnsSettings::default();
    dns.name = "greeter.test".into();
    dns.refresh = Duration::from_millis(50);
    let mut settings = ClientSettings::default();
    settings.dns = Some(dns);
    settings.timeout = Duration::from_secs(10);
    settings.connect_timeout = Duration::from_secs(5);
    settings.tls = trusting(dir.path(), &ca)
        .with_identity(cert.clone(), key.clone())
        .with_reload_interval(Duration::from_secs(1));
    let client = Client::builder("greeter", &settings)
        .resolver(resolver.clone())
        .build()
        .unwrap();
    assert_eq!(say_hello(&client).await.unwrap(), "hello ada");
    assert_eq!(first.seen.client_certs(), [Some(old.der())]);

    // Rotate as cert-manager does: write the new pair aside, rename over.
    let (new_cert, new_key) = new.write(dir.path(), "next");
    std::fs::rename(new_key, &key).unwrap();
    std::fs::rename(new_cert, &cert).unwrap();
    // Give the watcher time to see it (events, else the 1 s interval).
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The open connection keeps working.
    assert_eq!(say_hello(&client).await.unwrap(), "hello ada");
    assert_eq!(first.seen.client_certs().len(), 1, "no new connection yet");

    // A new endpoint means a new connection: it shows the new certificate.
    let second = TlsUpstream::start(config).await;
    *resolver.0.lock().unwrap() = vec![second.addr];
    wait_until(|| {
        client
            .endpoints()
            .iter()
            .any(|(k, _)| *k == second.addr.to_string())
    })
    .await;
    let mut answered = false;
    for _ in 0..50 {
        if say_hello(&client).await.is_ok() && second.seen.calls() > 0 {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answered, "the new endpoint never answered");
    assert_eq!(second.seen.client_certs(), [Some(new.der())]);
}

#[tokio::test]
async fn a_missing_ca_file_is_an_error_naming_the_key_and_the_file() {
    let tls = ClientTlsSettings::default().with_ca_file("/no/such/ca.crt");
    let error = boost_rpc::client(
        "profiles",
        &settings(&["https://127.0.0.1:1".to_owned()], Some(tls)),
    )
    .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, RpcError::Tls { .. }), "{error:?}");
    assert!(text.contains("`profiles.tls.ca_file`"), "{text}");
    assert!(text.contains("/no/such/ca.crt"), "{text}");
}
