//! OTLP export to an `https://` collector (issue 14): verified against the
//! configured CA, with a client certificate for a collector that requires
//! mTLS, and an IP endpoint checked against `tls.server_name`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use boost_config::ServiceIdentity;
use boost_test_certs::{Ca, Leaf, TlsConn};
use boost_tls::ClientTlsSettings;
use boost_tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};
use boost_tls::rustls::server::WebPkiClientVerifier;
use boost_tls::rustls::{self, RootCertStore, ServerConfig};
use boost_tls::tokio_rustls::TlsAcceptor;
use boost_tracing::{TracingSettings, builder};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::net::TcpListener;

/// The names of the spans received, and the client certificate of each
/// TLS connection.
#[derive(Clone, Default)]
struct Received {
    spans: Arc<Mutex<Vec<String>>>,
    client_certs: Arc<Mutex<Vec<Option<CertificateDer<'static>>>>>,
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let names = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|rs| rs.scope_spans)
            .flat_map(|ss| ss.spans)
            .map(|span| span.name);
        self.spans.lock().unwrap().extend(names);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// A collector serving TLS with `leaf`, requiring a client certificate from
/// `client_ca` when given.
async fn tls_collector(
    leaf: &boost_test_certs::Pair,
    client_ca: Option<&Ca>,
) -> (SocketAddr, Received) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let config = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(ca.pem().as_bytes()).unwrap())
                .unwrap();
            config.with_client_cert_verifier(
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .unwrap(),
            )
        }
        None => config.with_no_client_auth(),
    };
    let mut config = config
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap(),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Received::default();
    let (conns, incoming) = tokio::sync::mpsc::channel::<io::Result<TlsConn>>(8);
    let certs = received.client_certs.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let conns = conns.clone();
            let certs = certs.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let cert = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first().cloned());
                    certs.lock().unwrap().push(cert);
                    let _ = conns.send(Ok(TlsConn(tls))).await;
                }
            });
        }
    });
    let service = TraceServiceServer::new(received.clone());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::ReceiverStream::new(incoming)),
    );
    (addr, received)
}

fn settings(endpoint: String, tls: Option<ClientTlsSettings>) -> TracingSettings {
    let mut s = TracingSettings::default();
    s.otlp.enabled = true;
    s.otlp.endpoint = endpoint.into();
    s.otlp.scheduled_delay = Duration::from_millis(50);
    s.otlp.timeout = Duration::from_secs(5);
    s.otlp.tls = tls.unwrap_or_default();
    s
}

/// Records one span through settings `s` and shuts the exporter down (which
/// flushes it).
async fn export_one_span(s: &TracingSettings, name: &'static str) {
    let (dispatch, guard) = builder(s, &ServiceIdentity::new("hello-service", "1.2.3"))
        .ignore_rust_log()
        .writer(std::io::sink())
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("exported", otel.name = name).in_scope(|| tracing::info!("x"));
    });
    guard.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_a_collector_that_requires_mtls_with_the_configured_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let server = ca.issue(&Leaf::new("collector").dns("collector.test"));
    let client = ca.issue(&Leaf::new("hello-service").uri("spiffe://test/hello-service"));
    let (addr, received) = tls_collector(&server, Some(&ca)).await;
    let (cert, key) = client.write(dir.path(), "client");
    let tls = ClientTlsSettings::default()
        .with_ca_file(ca.write(dir.path(), "ca"))
        .with_identity(cert, key)
        .with_server_name("collector.test");
    export_one_span(&settings(format!("https://{addr}"), Some(tls)), "over_mtls").await;

    assert_eq!(*received.spans.lock().unwrap(), ["over_mtls"]);
    let shown = received.client_certs.lock().unwrap().clone();
    let expected = CertificateDer::from_pem_slice(client.cert_pem.as_bytes()).unwrap();
    assert_eq!(shown, [Some(expected)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_whose_certificate_does_not_verify_receives_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("test CA");
    let other = Ca::new("other CA");
    let server = other.issue(&Leaf::new("collector").dns("collector.test"));
    let (addr, received) = tls_collector(&server, None).await;
    let tls = ClientTlsSettings::default()
        .with_ca_file(ca.write(dir.path(), "ca"))
        .with_server_name("collector.test");
    let mut s = settings(format!("https://{addr}"), Some(tls));
    s.otlp.timeout = Duration::from_millis(500);
    s.flush_timeout = Duration::from_secs(2);
    export_one_span(&s, "never_seen").await;
    assert!(received.spans.lock().unwrap().is_empty());
    assert!(
        received.client_certs.lock().unwrap().is_empty(),
        "no handshake completed"
    );
}

#[test]
fn tls_settings_with_an_http_collector_or_a_missing_ca_file_are_errors_naming_the_key() {
    let tls = ClientTlsSettings::default().with_ca_file("/no/such/ca.crt");
    let s = settings("http://127.0.0.1:4317".into(), Some(tls.clone()));
    let err = builder(&s, &ServiceIdentity::new("svc", "1"))
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("`tracing.otlp.tls`"), "{err}");
    assert!(err.contains("http://"), "{err}");

    let s = settings("https://127.0.0.1:4317".into(), Some(tls));
    let err = builder(&s, &ServiceIdentity::new("svc", "1"))
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("`tracing.otlp.tls.ca_file`"), "{err}");
    assert!(err.contains("/no/such/ca.crt"), "{err}");
}
