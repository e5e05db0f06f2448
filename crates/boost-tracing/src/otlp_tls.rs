//! TLS to an `https://` collector: a tonic channel whose connections go
//! through boost-tls' rustls configuration (the CA bundle or the system's
//! roots, a client certificate for mTLS, both following rotation), handed
//! to the OTLP exporter with `with_channel`.
//!
//! opentelemetry-otlp's own `with_tls_config` takes tonic's TLS settings,
//! which read PEM once and cannot follow a rotated certificate; a channel on
//! our connector keeps the one `tls` shape and its rotation for export too.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use boost_tls::rustls_pki_types::ServerName;
use boost_tls::tokio_rustls::TlsConnector;
use boost_tls::tokio_rustls::client::TlsStream;
use boost_tls::{ClientTls, ClientTlsSettings, Watch};
use http::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint};

/// The config section of the collector's TLS, as errors name its keys.
pub(crate) const SECTION: &str = "tracing.otlp.tls";

/// How long connecting and the TLS handshake to the collector may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A channel to the `https://` collector at `uri`, and the task that keeps
/// the TLS files current (to spawn on the export runtime). Must be called
/// inside that runtime.
///
/// # Errors
/// What is wrong with the TLS settings or files, naming the key and file
/// (`tracing.otlp.tls.ca_file`), or with the endpoint's host as a server name.
pub(crate) fn channel(
    uri: &Uri,
    settings: &ClientTlsSettings,
    timeout: Duration,
) -> Result<(Channel, Watch), String> {
    let tls = ClientTls::from_settings(SECTION, settings).map_err(|e| e.to_string())?;
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let server_name = match tls.server_name() {
        Some(name) => name.clone(),
        None => ServerName::try_from(host.to_owned()).map_err(|_| {
            format!(
                "the endpoint's host {host:?} is not a name a certificate can carry; set \
                 `{SECTION}.server_name`"
            )
        })?,
    };
    let port = uri.port_u16().unwrap_or(443);
    // Host and port only: a `user:password@` in the endpoint is never sent.
    let host_port = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let dial: Uri = format!("http://{host_port}")
        .parse()
        .map_err(|e| format!("the endpoint is not a valid URI: {e}"))?;
    let origin: Uri = format!("https://{host_port}")
        .parse()
        .map_err(|e| format!("the endpoint is not a valid URI: {e}"))?;
    let connect = Connect {
        connector: TlsConnector::from(tls.client_config([b"h2".to_vec()])),
        server_name,
    };
    let channel = Endpoint::from(dial)
        .origin(origin)
        .timeout(timeout)
        .connect_with_connector_lazy(connect);
    Ok((channel, tls.watch()))
}

/// TCP (`TCP_NODELAY`) then the TLS handshake, within [`CONNECT_TIMEOUT`],
/// insisting on HTTP/2.
#[derive(Clone)]
struct Connect {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl tower_service::Service<Uri> for Connect {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connector = self.connector.clone();
        let server_name = self.server_name.clone();
        Box::pin(async move {
            let host = uri
                .host()
                .unwrap_or_default()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let port = uri.port_u16().unwrap_or(443);
            let connect = async {
                let tcp = TcpStream::connect((host.as_str(), port)).await?;
                tcp.set_nodelay(true)?;
                let tls = connector.connect(server_name.clone(), tcp).await?;
                if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the collector did not agree to HTTP/2 (ALPN \"h2\"); is it an OTLP/gRPC \
                         endpoint?",
                    ));
                }
                Ok(TokioIo::new(tls))
            };
            let name = server_name.to_str().into_owned();
            match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
                Ok(Ok(io)) => Ok(io),
                Ok(Err(e)) => Err(io::Error::new(
                    e.kind(),
                    format!("TLS to the collector {host}:{port} (server name {name}) failed: {e}"),
                )),
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "TLS to the collector {host}:{port} was not set up within \
                         {CONNECT_TIMEOUT:?}"
                    ),
                )),
            }
        })
    }
}
