//! The HTTP client over TLS through the kit's `tls` shape: an in-test HTTPS
//! upstream that requires a client certificate (mTLS) is reached with
//! `ca_file` + `cert_file` + `key_file`, and refused, saying why, without
//! the client certificate or when the upstream is from another CA.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::error::Error as _;
use std::path::Path;
use std::time::Duration;

use boost_http::client::{HttpClient, HttpClientError, HttpClientSettings};
use boost_test_certs::{Ca, Leaf};
use boost_tls::{ClientAuth, ClientTlsSettings, ServerTls, ServerTlsSettings};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;

/// An HTTPS upstream on 127.0.0.1 with a `localhost` certificate from
/// `server_ca`, requiring client certificates from `client_ca`; answers
/// every request `200 ok`. Returns its base URL.
async fn mtls_upstream(dir: &Path, server_ca: &Ca, client_ca: &Ca) -> String {
    let (cert, key) = server_ca
        .issue(&Leaf::new("upstream").dns("localhost"))
        .write(dir, "upstream");
    let client_ca_file = client_ca.write(dir, "client-ca");
    let settings =
        ServerTlsSettings::new(cert, key).with_client_auth(ClientAuth::Require, client_ca_file);
    let tls = ServerTls::from_settings("upstream.tls", &settings)
        .unwrap()
        .expect("TLS is on");
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return; // a refused handshake: the client sees why
                };
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

/// Settings for `url` (an IP base URL, so `server_name = "localhost"`),
/// one attempt, generous timeouts for a loaded machine.
fn settings(url: &str, tls: ClientTlsSettings) -> HttpClientSettings {
    let mut settings = HttpClientSettings::with_base_urls([url]);
    settings.timeout = Duration::from_secs(10);
    settings.connect_timeout = Duration::from_secs(5);
    settings.retry.max_attempts = 1;
    settings.tls = tls.with_server_name("localhost");
    settings
}

/// The error and all its sources, for asserting on the reason.
fn chain(error: &HttpClientError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn mtls_with_the_configured_ca_and_client_certificate_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let url = mtls_upstream(dir.path(), &ca, &ca).await;
    let (cert, key) = ca.issue(&Leaf::new("caller")).write(dir.path(), "caller");
    let tls = ClientTlsSettings::default()
        .with_ca_file(ca.write(dir.path(), "ca"))
        .with_identity(cert, key);
    let client = HttpClient::new("partner", &settings(&url, tls)).unwrap();
    for _ in 0..3 {
        let response = client.get("/hello").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.body(), b"ok".as_slice());
    }
}

#[tokio::test]
async fn without_a_client_certificate_the_upstream_refuses_and_the_error_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let url = mtls_upstream(dir.path(), &ca, &ca).await;
    let tls = ClientTlsSettings::default().with_ca_file(ca.write(dir.path(), "ca"));
    let client = HttpClient::new("partner", &settings(&url, tls)).unwrap();
    let error = client.get("/hello").send().await.unwrap_err();
    let text = chain(&error);
    assert!(text.contains("CertificateRequired"), "{text}");
    assert!(text.contains("partner"), "{text}");
}

#[tokio::test]
async fn an_upstream_from_another_ca_is_refused_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let other = Ca::new("other CA");
    let url = mtls_upstream(dir.path(), &other, &ca).await;
    let (cert, key) = ca.issue(&Leaf::new("caller")).write(dir.path(), "caller");
    let tls = ClientTlsSettings::default()
        .with_ca_file(ca.write(dir.path(), "ca"))
        .with_identity(cert, key);
    let client = HttpClient::new("partner", &settings(&url, tls)).unwrap();
    let error = client.get("/hello").send().await.unwrap_err();
    let text = chain(&error);
    assert!(text.contains("UnknownIssuer"), "{text}");
    assert!(text.contains("the TLS handshake failed"), "{text}");
}

#[tokio::test]
async fn a_missing_ca_file_fails_at_start_naming_the_key() {
    let tls = ClientTlsSettings::default().with_ca_file("/no/such/ca.crt");
    let error = HttpClient::new("partner", &settings("https://127.0.0.1:1", tls)).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("`partner.tls.ca_file`"), "{text}");
    assert!(text.contains("/no/such/ca.crt"), "{text}");
}

#[test]
fn tls_keys_with_only_http_base_urls_are_a_config_error_naming_the_key() {
    let tls = ClientTlsSettings::default().with_ca_file("/etc/tls/ca.crt");
    let error = HttpClient::new("partner", &settings("http://127.0.0.1:1", tls)).unwrap_err();
    let text = chain(&error);
    assert!(text.contains("partner.tls"), "{text}");
    assert!(text.contains("http://"), "{text}");
}

#[tokio::test]
async fn a_rotated_ca_file_is_used_by_new_connections_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let old = Ca::new("old CA");
    let url = mtls_upstream(dir.path(), &ca, &ca).await;
    let (cert, key) = ca.issue(&Leaf::new("caller")).write(dir.path(), "caller");
    let ca_file = old.write(dir.path(), "trusted");
    let tls = ClientTlsSettings::default()
        .with_ca_file(&ca_file)
        .with_identity(cert, key)
        .with_reload_interval(Duration::from_secs(1));
    let client = HttpClient::new("partner", &settings(&url, tls)).unwrap();
    let error = client.get("/hello").send().await.unwrap_err();
    assert!(chain(&error).contains("UnknownIssuer"), "{}", chain(&error));

    // The trusted bundle is replaced as cert-manager does (rename over it).
    boost_test_certs::replace(&ca_file, ca.pem().as_bytes());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match client.get("/hello").send().await {
            Ok(response) => {
                assert_eq!(response.status(), 200);
                break;
            }
            Err(error) => assert!(
                std::time::Instant::now() < deadline,
                "the new CA file was not picked up: {}",
                chain(&error)
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
