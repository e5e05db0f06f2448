//! The TLS metrics on the admin server's `/metrics`, through a whole
//! `Service` (which installs the process's tracing and metrics: its own
//! test binary, apart from grpc_tls.rs's span capture).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use boost_test_certs::{Ca, Leaf};
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use boost_tls::rustls::ClientConfig;
use boost_tls::rustls::pki_types::ServerName;
use boost_tls::tokio_rustls::TlsConnector;
use boost_tls::{ClientTls, ClientTlsSettings};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

struct WhoAmI;

#[tonic::async_trait]
impl Greeter for WhoAmI {
    async fn say_hello(
        &self,
        _request: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
        Ok(tonic::Response::new(HelloReply {
            message: "anonymous".to_owned(),
        }))
    }
}

struct Pki {
    _dir: tempfile::TempDir,
    ca_file: std::path::PathBuf,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("mesh CA");
        let ca_file = ca.write(dir.path(), "ca");
        let (cert, key) = ca
            .issue(&Leaf::new("server-1").dns("localhost"))
            .write(dir.path(), "server");
        Pki {
            _dir: dir,
            ca_file,
            cert,
            key,
        }
    }

    fn client(&self) -> Arc<ClientConfig> {
        ClientTls::from_settings(
            "test.tls",
            &ClientTlsSettings::default().with_ca_file(&self.ca_file),
        )
        .unwrap()
        .client_config([b"h2".to_vec()])
    }
}

async fn say_hello(addr: SocketAddr, config: Arc<ClientConfig>) -> Result<String, String> {
    let connector = TlsConnector::from(config);
    let dial = tower::service_fn(move |_: http::Uri| {
        let connector = connector.clone();
        async move {
            let tcp = TcpStream::connect(addr).await?;
            let name = ServerName::try_from("localhost").unwrap();
            let tls = connector.connect(name, tcp).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    let channel = tonic::transport::Endpoint::from_static("http://localhost")
        .connect_with_connector(dial)
        .await
        .map_err(|e| format!("{e:?}"))?;
    GreeterClient::new(channel)
        .say_hello(HelloRequest { name: "x".into() })
        .await
        .map(|r| r.into_inner().message)
        .map_err(|status| format!("{status:?}"))
}

/// The expiry gauge and a refused handshake on `/metrics`, with HELP lines.
#[tokio::test]
async fn tls_metrics_are_on_the_admin_endpoint() {
    use boost_config::Loader;
    use boost_service::{Config, NoSettings, Service};
    let pki = Pki::new();
    let cert = pki.cert.display().to_string();
    let key = pki.key.display().to_string();
    let loaded = Loader::new("tls-metrics")
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
            "grpc.tls.enabled=true",
            "--set",
            &format!("grpc.tls.cert_file={cert}"),
            "--set",
            &format!("grpc.tls.key_file={key}"),
        ])
        .load::<Config<NoSettings>>()
        .unwrap();
    let running = Service::new(loaded)
        .unwrap()
        .handle_signals(false)
        .grpc(GreeterServer::new(WhoAmI))
        .start()
        .await
        .unwrap();
    let grpc = running.grpc_addr().unwrap();
    assert_eq!(say_hello(grpc, pki.client()).await.unwrap(), "anonymous");
    // A peer that speaks no TLS: a refused handshake.
    let mut plain = TcpStream::connect(grpc).await.unwrap();
    plain
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::io::AsyncReadExt::read_to_end(&mut plain, &mut buf),
    )
    .await;

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = common::get(running.admin_addr(), "/metrics")
            .await
            .text()
            .await
            .unwrap();
        let expiry = body.lines().any(|l| {
            l.starts_with("tls_certificate_expiry_timestamp_seconds{")
                && l.contains("role=\"server\"")
                && l.contains("subject=\"CN=server-1\"")
        });
        let refused = body.lines().any(|l| {
            l.starts_with("tls_handshake_failures_total{")
                && l.contains("server=\"grpc\"")
                && l.contains("reason=\"refused\"")
        });
        if expiry && refused {
            assert!(
                body.contains("# HELP tls_handshake_failures_total"),
                "{body}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "TLS metrics missing:\n{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}
