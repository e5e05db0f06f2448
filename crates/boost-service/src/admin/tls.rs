//! HTTPS for the kit's HTTP/1 servers (`[admin.tls]`, `[http.tls]`): one
//! handshake per accepted connection, in that connection's own task, within
//! `<server>.tls.handshake_timeout`. Failures are counted in
//! `tls_handshake_failures_total{server,reason}` (`server` is `admin` or
//! `http`) and logged at most every 10 s.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use boost_tls::ServerTls;
use boost_tls::tokio_rustls::TlsAcceptor;
use boost_tls::tokio_rustls::server::TlsStream;

use crate::connections::{Quiet, TrackedStream};

/// One HTTP/1 server's TLS handshakes (cheap to clone).
#[derive(Clone)]
pub(crate) struct Handshakes {
    server: &'static str,
    acceptor: TlsAcceptor,
    timeout: Duration,
    failures: Arc<Mutex<Quiet>>,
}

impl Handshakes {
    /// The handshakes of `server` (the `server` label: `admin`, `http`).
    pub(crate) fn new(server: &'static str, tls: &ServerTls) -> Handshakes {
        crate::grpc::describe_tls_metrics();
        Handshakes {
            server,
            acceptor: TlsAcceptor::from(tls.server_config([b"http/1.1".to_vec()])),
            timeout: tls.handshake_timeout(),
            failures: Arc::new(Mutex::new(Quiet::default())),
        }
    }

    /// The connection after its handshake; `None` (counted, logged) when it
    /// failed or took too long.
    pub(crate) async fn accept(
        &self,
        stream: TrackedStream,
        peer: SocketAddr,
    ) -> Option<TlsStream<TrackedStream>> {
        let (reason, error) =
            match tokio::time::timeout(self.timeout, self.acceptor.accept(stream)).await {
                Ok(Ok(stream)) => return Some(stream),
                Ok(Err(error)) => ("refused", error.to_string()),
                Err(_) => ("timeout", format!("no handshake within {:?}", self.timeout)),
            };
        crate::grpc::count_handshake_failure(self.server, reason);
        let due = self
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .due();
        match due {
            Some(quiet) => {
                tracing::warn!(server = self.server, peer = %peer, reason, error = %error,
                failed_since_last_log = quiet,
                "TLS handshake failed; counted in tls_handshake_failures_total")
            }
            None => tracing::debug!(server = self.server, peer = %peer, reason, error = %error,
                "TLS handshake failed"),
        }
        None
    }
}
