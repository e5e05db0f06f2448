//! `[http.tls]`: the HTTP server over HTTPS with the kit's server `tls`
//! shape, and its files checked at start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use boost_http::client::{HttpClient, HttpClientSettings};
use boost_service::{NoSettings, Service};
use boost_test_certs::{Ca, Leaf};
use boost_tls::ClientTlsSettings;

fn config(sets: &[String]) -> boost_config::Loaded<boost_service::Config<NoSettings>> {
    let mut args = Vec::new();
    for set in [
        "admin.listen=127.0.0.1:0".to_owned(),
        "http.listen=127.0.0.1:0".to_owned(),
        "lifecycle.drain_delay=0s".to_owned(),
        "http.tls.enabled=true".to_owned(),
    ]
    .iter()
    .chain(sets)
    {
        args.extend(["--set".to_owned(), set.clone()]);
    }
    boost_config::Loader::new("http-tls-test")
        .dir("no/such/dir")
        .env_vars([("APP_ENV", "")])
        .args(args)
        .load()
        .unwrap()
}

fn routes() -> Router {
    Router::new().route("/v1/ping", get(|| async { "pong" }))
}

#[tokio::test]
async fn https_requests_are_served_with_http_tls_on() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let (cert, key) = ca
        .issue(&Leaf::new("http").dns("localhost"))
        .write(dir.path(), "http");
    let running = Service::without_telemetry(config(&[
        format!("http.tls.cert_file={}", cert.display()),
        format!("http.tls.key_file={}", key.display()),
    ]))
    .handle_signals(false)
    .http(routes())
    .start()
    .await
    .unwrap();
    let base = format!("https://{}", running.http_addr().unwrap());

    let mut settings = HttpClientSettings::with_base_urls([base.as_str()]);
    settings.timeout = Duration::from_secs(10);
    settings.connect_timeout = Duration::from_secs(5);
    settings.retry.max_attempts = 1;
    settings.tls = ClientTlsSettings::default()
        .with_ca_file(ca.write(dir.path(), "ca"))
        .with_server_name("localhost");
    let client = HttpClient::new("self", &settings).unwrap();
    let ping = client.get("/v1/ping").send().await.unwrap();
    assert_eq!(ping.status(), 200);
    assert_eq!(ping.body(), b"pong".as_slice());

    // Plaintext to the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/v1/ping", running.http_addr().unwrap()))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    assert!(plain.is_err(), "plaintext was served: {plain:?}");

    running.shutdown_handle().trigger();
    tokio::time::timeout(Duration::from_secs(30), running.wait())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_bad_certificate_file_fails_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let (_, key) = ca
        .issue(&Leaf::new("http").dns("localhost"))
        .write(dir.path(), "http");
    let bad = dir.path().join("bad.crt");
    std::fs::write(&bad, "not a certificate\n").unwrap();
    let error = Service::without_telemetry(config(&[
        format!("http.tls.cert_file={}", bad.display()),
        format!("http.tls.key_file={}", key.display()),
    ]))
    .handle_signals(false)
    .http(routes())
    .start()
    .await
    .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("`http.tls.cert_file`"), "{text}");
    assert!(text.contains("bad.crt"), "{text}");
}

#[tokio::test]
async fn with_client_auth_require_only_callers_with_a_certificate_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let (cert, key) = ca
        .issue(&Leaf::new("http").dns("localhost"))
        .write(dir.path(), "http");
    let ca_file = ca.write(dir.path(), "ca");
    let running = Service::without_telemetry(config(&[
        format!("http.tls.cert_file={}", cert.display()),
        format!("http.tls.key_file={}", key.display()),
        format!("http.tls.ca_file={}", ca_file.display()),
        "http.tls.client_auth=require".to_owned(),
    ]))
    .handle_signals(false)
    .http(routes())
    .start()
    .await
    .unwrap();
    let base = format!("https://{}", running.http_addr().unwrap());
    let client = |tls: ClientTlsSettings| {
        let mut settings = HttpClientSettings::with_base_urls([base.as_str()]);
        settings.timeout = Duration::from_secs(10);
        settings.connect_timeout = Duration::from_secs(5);
        settings.retry.max_attempts = 1;
        settings.tls = tls.with_ca_file(&ca_file).with_server_name("localhost");
        HttpClient::new("self", &settings).unwrap()
    };

    let (caller_cert, caller_key) = ca.issue(&Leaf::new("caller")).write(dir.path(), "caller");
    let with_cert = client(ClientTlsSettings::default().with_identity(caller_cert, caller_key));
    let ping = with_cert.get("/v1/ping").send().await.unwrap();
    assert_eq!(ping.status(), 200);

    let without = client(ClientTlsSettings::default());
    let error = without.get("/v1/ping").send().await.unwrap_err();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(text.contains("CertificateRequired"), "{text}");

    running.shutdown_handle().trigger();
    tokio::time::timeout(Duration::from_secs(30), running.wait())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_silent_peer_is_closed_after_the_handshake_timeout() {
    use tokio::io::AsyncReadExt;

    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let (cert, key) = ca
        .issue(&Leaf::new("http").dns("localhost"))
        .write(dir.path(), "http");
    let running = Service::without_telemetry(config(&[
        format!("http.tls.cert_file={}", cert.display()),
        format!("http.tls.key_file={}", key.display()),
        "http.tls.handshake_timeout=200ms".to_owned(),
    ]))
    .handle_signals(false)
    .http(routes())
    .start()
    .await
    .unwrap();
    let mut silent = tokio::net::TcpStream::connect(running.http_addr().unwrap())
        .await
        .unwrap();
    // Sends nothing: the server closes it once the handshake timeout passes
    // (a read sees the end of the stream or a reset, not a hang) — well
    // before `http.header_read_timeout` (10s) or `http.idle_timeout` (60s).
    let mut buf = [0_u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(8), silent.read(&mut buf))
        .await
        .expect("the silent connection was not closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    running.shutdown_handle().trigger();
    tokio::time::timeout(Duration::from_secs(30), running.wait())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn over_mtls_handlers_see_the_peer_identity_and_rate_limits_key_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let (cert, key) = ca
        .issue(&Leaf::new("http").dns("localhost"))
        .write(dir.path(), "http");
    let ca_file = ca.write(dir.path(), "ca");
    let routes = Router::new().route(
        "/v1/whoami",
        get(
            |axum::Extension(peer): axum::Extension<boost_tls::PeerIdentity>| async move {
                peer.principal().to_owned()
            },
        ),
    );
    let running = Service::without_telemetry(config(&[
        format!("http.tls.cert_file={}", cert.display()),
        format!("http.tls.key_file={}", key.display()),
        format!("http.tls.ca_file={}", ca_file.display()),
        "http.tls.client_auth=require".to_owned(),
        "http.rate_limit.enabled=true".to_owned(),
        "http.rate_limit.key=peer".to_owned(),
        "http.rate_limit.per_second=1".to_owned(),
        "http.rate_limit.burst=2".to_owned(),
    ]))
    .handle_signals(false)
    .http(routes)
    .start()
    .await
    .unwrap();
    let base = format!("https://{}", running.http_addr().unwrap());
    let client = |name: &str| {
        let (cert, key) = ca.issue(&Leaf::new(name)).write(dir.path(), name);
        let mut settings = HttpClientSettings::with_base_urls([base.as_str()]);
        settings.timeout = Duration::from_secs(10);
        settings.connect_timeout = Duration::from_secs(5);
        settings.retry.max_attempts = 1;
        settings.tls = ClientTlsSettings::default()
            .with_identity(cert, key)
            .with_ca_file(&ca_file)
            .with_server_name("localhost");
        HttpClient::new(name, &settings).unwrap()
    };
    let (a, b) = (client("caller-a"), client("caller-b"));

    let first = a.get("/v1/whoami").send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert!(first.text().contains("caller-a"), "{}", first.text());
    // Caller A's burst of two, then (within about a second) refused.
    let mut refused = None;
    for _ in 0..20 {
        let answer = a.get("/v1/whoami").send().await.unwrap();
        if answer.status() == 429 {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("caller-a was rate limited");
    assert!(refused.headers().contains_key("retry-after"));
    // Caller B has its own bucket.
    let other = b.get("/v1/whoami").send().await.unwrap();
    assert_eq!(other.status(), 200);
    assert!(other.text().contains("caller-b"), "{}", other.text());

    running.shutdown_handle().trigger();
    tokio::time::timeout(Duration::from_secs(30), running.wait())
        .await
        .unwrap()
        .unwrap();
}
