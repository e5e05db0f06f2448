//! TLS for a client's connections: each `https://` endpoint (and each
//! address of a `dns` name when any `tls` key is set) connects through
//! [`TlsConnect`], a connector tonic's channel calls for every new
//! connection.
//!
//! TLS is a property of the connector, per endpoint: the balancer, ejection
//! and discovery above see the same `Channel` whether it is plaintext or not.
//! A failed handshake is a failed connect (unsent UNAVAILABLE, retried on
//! another endpoint, the reconnect backoff waited out), and
//! `connect_timeout` bounds TCP connect and handshake together. After a
//! TLS 1.3 handshake the connector also waits, briefly, for the server to
//! accept it ([`confirmed`]), so a refused client certificate is a failed
//! connect too.
//!
//! The rustls configuration is built once per client and shared by every
//! connection; its client certificate and roots come from boost-tls, whose
//! resolver re-reads rotated files, so new connections present the new
//! certificate while established ones keep theirs.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

mod confirmed;

use boost_tls::ClientTls;
use boost_tls::rustls::ProtocolVersion;
use boost_tls::rustls_pki_types::ServerName;
use boost_tls::tokio_rustls::TlsConnector;
use boost_tls::tokio_rustls::client::TlsStream;
use http::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use self::confirmed::{CONFIRM_WAIT, Confirmed};

/// The protocol gRPC needs the server to agree to (RFC 7301 ALPN id).
const ALPN_H2: &[u8] = b"h2";

/// The TLS of a client's connections: boost-tls' rustls configuration
/// (HTTP/2 offered by ALPN) and the name to check endpoints against.
#[derive(Clone)]
pub(crate) struct EndpointTls {
    connector: TlsConnector,
    /// The name every endpoint's certificate is checked against, when set
    /// (`tls.server_name`, else the `dns.name` of a discovered client);
    /// otherwise each endpoint's own host.
    server_name: Option<ServerName<'static>>,
}

impl std::fmt::Debug for EndpointTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl EndpointTls {
    /// TLS from `tls`, checking endpoints against its `server_name`, else
    /// against `default_name` (a discovered client's DNS name), else
    /// against each endpoint's host.
    pub(crate) fn new(tls: &ClientTls, default_name: Option<&str>) -> Self {
        let server_name = tls
            .server_name()
            .cloned()
            .or_else(|| default_name.and_then(|name| ServerName::try_from(name.to_owned()).ok()));
        // boost-tls empties the config's session cache when the files
        // rotate, so a new connection never resumes a session made with the
        // old certificate.
        Self {
            connector: TlsConnector::from(tls.client_config([ALPN_H2.to_vec()])),
            server_name,
        }
    }

    /// The connector of the endpoint at `uri` (connect and handshake within
    /// `timeout`), and the origin its requests carry
    /// (`https://<server name>:<port>`: the `:authority` the server or a
    /// proxy routes on). A host that is no server name was refused by the
    /// settings' rules; should one get here, every connect fails saying so.
    pub(crate) fn endpoint(&self, uri: &Uri, timeout: Duration) -> (TlsConnect, Uri) {
        let host = unbracketed(uri.host().unwrap_or_default());
        let server_name = match &self.server_name {
            Some(name) => Ok(name.clone()),
            None => parse_server_name(host),
        };
        let own = uri
            .authority()
            .map_or_else(|| host.to_owned(), ToString::to_string);
        let authority = match &server_name {
            Ok(ServerName::DnsName(name)) => match uri.port_u16() {
                Some(port) => format!("{}:{port}", name.as_ref()),
                None => name.as_ref().to_owned(),
            },
            _ => own.clone(),
        };
        let origin = format!("https://{authority}")
            .parse()
            .or_else(|_| format!("https://{own}").parse())
            .unwrap_or_else(|_| uri.clone());
        let connect = TlsConnect {
            connector: self.connector.clone(),
            server_name,
            timeout,
        };
        (connect, origin)
    }
}

/// `[::1]` as `::1`.
fn unbracketed(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

/// `name` as the name a certificate must carry: a DNS name (SAN dNSName)
/// or an IP address (SAN iPAddress); else what is wrong.
pub(crate) fn parse_server_name(name: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(unbracketed(name).to_owned()).map_err(|_| {
        format!(
            "{name:?} is neither a DNS name nor an IP address that a certificate can be \
             checked against"
        )
    })
}

/// Connects to an endpoint over TCP (`TCP_NODELAY`) and makes the TLS
/// handshake, checking the server's certificate for the endpoint's server
/// name and that it speaks HTTP/2. tonic's channel calls it for each new
/// connection, with the endpoint's URI.
#[derive(Clone)]
pub(crate) struct TlsConnect {
    connector: TlsConnector,
    server_name: Result<ServerName<'static>, String>,
    timeout: Duration,
}

impl tower_service::Service<Uri> for TlsConnect {
    type Response = TokioIo<Confirmed<TlsStream<TcpStream>>>;
    type Error = TlsConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, TlsConnectError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), TlsConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connector = self.connector.clone();
        let server_name = self.server_name.clone();
        let timeout = self.timeout;
        let host = unbracketed(uri.host().unwrap_or_default()).to_owned();
        let port = uri.port_u16().unwrap_or(443);
        let fail = {
            let peer = format!("{host}:{port}");
            let name = match &server_name {
                Ok(name) => name.to_str().into_owned(),
                Err(_) => host.clone(),
            };
            move |step: &'static str, source: io::Error| TlsConnectError {
                step,
                peer: peer.clone(),
                server_name: name.clone(),
                source,
            }
        };
        let on_timeout = fail.clone();
        let started = tokio::time::Instant::now();
        let connect = async move {
            let server_name = server_name.map_err(|why| {
                fail(
                    "TLS setup",
                    io::Error::new(io::ErrorKind::InvalidInput, why),
                )
            })?;
            let tcp = TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| fail("connect", e))?;
            tcp.set_nodelay(true).map_err(|e| fail("connect", e))?;
            let tls = connector
                .connect(server_name, tcp)
                .await
                .map_err(|e| fail("TLS handshake", e))?;
            if tls.get_ref().1.alpn_protocol() != Some(ALPN_H2) {
                return Err(fail(
                    "TLS handshake",
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the server did not agree to HTTP/2 (ALPN \"h2\"); is it a gRPC server?",
                    ),
                ));
            }
            // TLS 1.3: the server may still refuse our certificate (see
            // `confirmed`); within what is left of `connect_timeout`.
            let wait = if tls.get_ref().1.protocol_version() == Some(ProtocolVersion::TLSv1_3) {
                CONFIRM_WAIT.min(timeout.saturating_sub(started.elapsed()) / 2)
            } else {
                Duration::ZERO
            };
            let confirmed = Confirmed::wait(tls, wait)
                .await
                .map_err(|e| fail("TLS handshake", e))?;
            Ok(TokioIo::new(confirmed))
        };
        Box::pin(async move {
            match tokio::time::timeout(timeout, connect).await {
                Ok(connected) => connected,
                Err(_) => Err(on_timeout(
                    "connect and TLS handshake",
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("not done within connect_timeout ({timeout:?})"),
                    ),
                )),
            }
        })
    }
}

/// A TLS connection to an endpoint could not be made.
#[derive(Debug, thiserror::Error)]
#[error("{step} to {peer} (server name {server_name}) failed: {source}")]
pub(crate) struct TlsConnectError {
    /// `connect` or `TLS handshake`.
    step: &'static str,
    /// `host:port` dialled.
    peer: String,
    /// The name the certificate was checked against.
    server_name: String,
    /// What went wrong (for a handshake: rustls' reason, e.g. an unknown issuer).
    #[source]
    source: io::Error,
}

/// What the server meant when it ended the connection with a TLS alert
/// that refuses the handshake, if the error chain holds one.
///
/// With TLS 1.3 the client's side of the handshake is done before the
/// server has checked the client certificate, so a server refusing it (none
/// shown, another CA, expired) is seen on the first request, as an alert
/// instead of a failed connect. Such a request was never processed: the
/// server refused the connection before reading any of it.
pub(crate) fn handshake_refusal(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source = Some(err);
    while let Some(e) = source {
        // rustls reports the alert as its own error, or (once the
        // connection is closed by it) as text in an `io::Error`.
        let alert = match e.downcast_ref::<boost_tls::rustls::Error>() {
            Some(boost_tls::rustls::Error::AlertReceived(alert)) => Some(format!("{alert:?}")),
            _ => e.downcast_ref::<io::Error>().and_then(|io| {
                let text = io.to_string();
                text.strip_prefix("received fatal alert: ")
                    .map(str::to_owned)
            }),
        };
        if let Some(alert) = alert {
            let hint = match alert.as_str() {
                "CertificateRequired" => {
                    "the server requires a client certificate: set `tls.cert_file` and \
                     `tls.key_file`"
                }
                "BadCertificate"
                | "UnsupportedCertificate"
                | "CertificateRevoked"
                | "CertificateExpired"
                | "CertificateUnknown"
                | "UnknownCA"
                | "AccessDenied" => {
                    "the server did not accept the client certificate (is it from a CA the \
                     server trusts, and current?)"
                }
                "HandshakeFailure"
                | "ProtocolVersion"
                | "InsufficientSecurity"
                | "NoApplicationProtocol"
                | "DecryptError" => "the server and the client share no usable TLS settings",
                _ => return None,
            };
            return Some(format!(
                "the server refused the TLS handshake (received fatal alert: {alert}); {hint}"
            ));
        }
        source = e.source();
    }
    None
}
