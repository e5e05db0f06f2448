//! boost-tls end to end: files made with rcgen, real handshakes on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod handshake;
mod load;
mod no_panic;
mod rotation;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use boost_tls::rustls::{ClientConfig, RootCertStore};
use boost_tls::rustls_pki_types::{CertificateDer, ServerName};
use boost_tls::tokio_rustls::{TlsAcceptor, TlsConnector};
use boost_tls::{ClientTls, PeerIdentity, ServerTls};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What one connection saw: the server's certificate (client side) and the
/// caller's identity (server side).
pub(crate) struct Seen {
    pub(crate) server_cert: CertificateDer<'static>,
    pub(crate) peer: Option<PeerIdentity>,
}

/// One connection from `client` to `server` that exchanges a byte each
/// way, so a refusal after the TLS 1.3 handshake (a client certificate the
/// server does not accept) shows up as an error here.
pub(crate) async fn connect(server: &ServerTls, client: impl Into<Client>) -> Result<Seen, String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(server.server_config([b"h2".to_vec()]));
    let serving = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
        let peer = PeerIdentity::from_chain(tls.get_ref().1.peer_certificates());
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte).await.map_err(|e| e.to_string())?;
        tls.write_all(b"k").await.map_err(|e| e.to_string())?;
        tls.flush().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(peer)
    });
    let connector = TlsConnector::from(client.into().0);
    let outcome = async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let server_cert = tls.get_ref().1.peer_certificates().unwrap()[0]
            .clone()
            .into_owned();
        tls.write_all(b"o").await.map_err(|e| e.to_string())?;
        tls.flush().await.map_err(|e| e.to_string())?;
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(server_cert)
    };
    let client_side = tokio::time::timeout(Duration::from_secs(30), outcome)
        .await
        .map_err(|_| "client timed out".to_owned())?;
    let server_side = tokio::time::timeout(Duration::from_secs(30), serving)
        .await
        .map_err(|_| "server timed out".to_owned())?
        .unwrap();
    match (client_side, server_side) {
        (Ok(server_cert), Ok(peer)) => Ok(Seen { server_cert, peer }),
        (Err(client), Err(server)) => Err(format!("client: {client}; server: {server}")),
        (Err(client), Ok(_)) => Err(format!("client: {client}")),
        (Ok(_), Err(server)) => Err(format!("server: {server}")),
    }
}

/// A temporary directory holding the files of one test.
pub(crate) struct Files {
    pub(crate) dir: tempfile::TempDir,
}

impl Files {
    pub(crate) fn new() -> Files {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// The identity in a DER certificate, for comparing which one was shown.
pub(crate) fn subject_of(cert: &CertificateDer<'_>) -> String {
    PeerIdentity::from_certificate(cert)
        .unwrap()
        .subject()
        .to_owned()
}

/// The client side of [`connect`]: a boost-tls client or a raw rustls config.
pub(crate) struct Client(pub Arc<ClientConfig>);

impl From<&ClientTls> for Client {
    fn from(tls: &ClientTls) -> Client {
        Client(tls.client_config([b"h2".to_vec()]))
    }
}

/// A client built with rustls directly (no checks of its own files): for
/// showing a server what boost-tls would refuse to load.
pub(crate) fn raw_client_with(ca: &Path, cert: &Path, key: &Path) -> Client {
    use boost_tls::rustls_pki_types::PrivateKeyDer;
    use boost_tls::rustls_pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    for der in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(der.unwrap()).unwrap();
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(
        boost_tls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    Client(Arc::new(config))
}
