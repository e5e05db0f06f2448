//! Certificates made in the test (rcgen; nothing checked in that expires)
//! and an in-process Greeter upstream serving TLS with raw rustls, which
//! records the client certificate each connection showed.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use boost_test_certs::TlsConn;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use boost_tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};
use boost_tls::rustls::server::WebPkiClientVerifier;
use boost_tls::rustls::{self, RootCertStore, ServerConfig};
use boost_tls::tokio_rustls::TlsAcceptor;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A certificate authority made for one test.
pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate (PEM) and its key (PEM), signed by a [`Ca`].
#[derive(Clone)]
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `common_name` with these SANs (DNS names or IP
    /// addresses; `spiffe://…` become URI SANs).
    pub fn leaf(&self, common_name: &str, sans: &[&str]) -> Leaf {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        for san in sans {
            let san = if san.starts_with("spiffe://") {
                SanType::URI((*san).try_into().unwrap())
            } else if let Ok(ip) = san.parse() {
                SanType::IpAddress(ip)
            } else {
                SanType::DnsName((*san).try_into().unwrap())
            };
            params.subject_alt_names.push(san);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

impl Leaf {
    /// The certificate's DER, as a peer sees it.
    pub fn der(&self) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(self.cert_pem.as_bytes()).unwrap()
    }

    /// Writes `<name>.crt` and `<name>.key` into `dir`; returns their paths.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, &self.cert_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }
}

/// Writes `pem` to `dir/<name>`.
pub fn write(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

/// A server config offering h2, presenting `leaf`, and asking for a client
/// certificate from `client_ca` when given (mTLS, required).
pub fn server_config(leaf: &Leaf, client_ca: Option<&Ca>) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(ca.pem.as_bytes()).unwrap())
                .unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
    let mut config = builder.with_single_cert(vec![leaf.der()], key).unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// What a TLS upstream saw.
#[derive(Default)]
pub struct Seen {
    /// Calls answered.
    pub calls: AtomicUsize,
    /// Handshakes completed.
    pub handshakes: AtomicUsize,
    /// Handshakes refused (by rustls: no or a bad client certificate…).
    pub refused: AtomicUsize,
    /// The client certificate of each completed handshake, if one was shown.
    pub client_certs: Mutex<Vec<Option<CertificateDer<'static>>>>,
}

impl Seen {
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
    pub fn client_certs(&self) -> Vec<Option<CertificateDer<'static>>> {
        self.client_certs.lock().unwrap().clone()
    }
}

/// A Greeter serving TLS on 127.0.0.1; stops when dropped.
pub struct TlsUpstream {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    _stop: oneshot::Sender<()>,
}

impl TlsUpstream {
    pub async fn start(config: Arc<ServerConfig>) -> TlsUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let acceptor = TlsAcceptor::from(config);
        let (conns_tx, conns_rx) = tokio::sync::mpsc::channel::<io::Result<TlsConn>>(16);
        let accepting = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let seen = accepting.clone();
                let conns = conns_tx.clone();
                tokio::spawn(async move {
                    match acceptor.accept(tcp).await {
                        Ok(tls) => {
                            let cert = tls
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|c| c.first().cloned());
                            seen.client_certs.lock().unwrap().push(cert);
                            seen.handshakes.fetch_add(1, Ordering::SeqCst);
                            let _ = conns.send(Ok(TlsConn(tls))).await;
                        }
                        Err(_) => {
                            seen.refused.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        let service = GreeterServer::new(Hello(seen.clone()));
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::ReceiverStream::new(conns_rx),
                    async {
                        let _ = stopped.await;
                    },
                )
                .await
        });
        TlsUpstream {
            addr,
            seen,
            _stop: stop,
        }
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

struct Hello(Arc<Seen>);

#[tonic::async_trait]
impl Greeter for Hello {
    async fn say_hello(
        &self,
        request: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
        Ok(tonic::Response::new(HelloReply {
            message: format!("hello {}", request.into_inner().name),
        }))
    }
}
