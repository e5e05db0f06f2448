//! [`Acceptor`]: the accept loop of a kit server — a connection cap with a
//! probe reserve, socket options, and back-off when `accept()` fails.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ConnectionLimits;
use super::metrics::{ACCEPT_ERRORS, REJECTED};

/// First pause after a failed `accept()`; it doubles up to [`MAX_BACKOFF`]
/// (Go's `net/http` server does the same).
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// A refused connection or a failing `accept()` is logged at most this often,
/// with the number of quiet ones since: a flood must not flood the logs.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// One accepted connection, holding its permit until it is dropped.
pub(crate) struct Admitted {
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) permit: OwnedSemaphorePermit,
    /// Admitted from the probe reserve: serve `/health/*` only.
    pub(crate) probe_only: bool,
}

/// Accepts connections within a server's [`ConnectionLimits`].
pub(crate) struct Acceptor {
    listener: TcpListener,
    limits: ConnectionLimits,
    general: Arc<Semaphore>,
    probes: Arc<Semaphore>,
    tcp_keepalive: Option<Duration>,
    backoff: Option<Duration>,
    rejected_log: Quiet,
    error_log: Quiet,
}

impl Acceptor {
    pub(crate) fn new(
        listener: TcpListener,
        limits: ConnectionLimits,
        tcp_keepalive: Option<Duration>,
    ) -> Self {
        super::fit(
            limits.server,
            limits
                .max_connections
                .saturating_add(limits.probe_connections),
        );
        Self {
            listener,
            general: Arc::new(Semaphore::new(limits.max_connections)),
            probes: Arc::new(Semaphore::new(limits.probe_connections)),
            limits,
            tcp_keepalive,
            backoff: None,
            rejected_log: Quiet::default(),
            error_log: Quiet::default(),
        }
    }

    /// The next connection within the cap. Connections past the cap are
    /// closed here; `accept()` errors are retried after a pause. Never ends:
    /// the caller stops calling it (and drops the listener) to stop accepting.
    pub(crate) async fn accept(&mut self) -> Admitted {
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    self.backoff = None;
                    if let Some(admitted) = self.admit(stream, peer) {
                        return admitted;
                    }
                }
                // The peer gave up between SYN and accept: nothing to do.
                Err(e) if is_peer_gone(&e) => {}
                Err(e) => self.back_off(&e).await,
            }
        }
    }

    fn admit(&mut self, stream: TcpStream, peer: SocketAddr) -> Option<Admitted> {
        let (permit, probe_only) = match Arc::clone(&self.general).try_acquire_owned() {
            Ok(permit) => (permit, false),
            Err(_) => match Arc::clone(&self.probes).try_acquire_owned() {
                Ok(permit) => (permit, true),
                Err(_) => {
                    self.reject(peer);
                    return None;
                }
            },
        };
        // Small responses must not wait for Nagle's algorithm (~6x slower unary calls).
        let _ = stream.set_nodelay(true);
        if let Some(time) = self.tcp_keepalive {
            let keepalive = socket2::TcpKeepalive::new().with_time(time);
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
        }
        Some(Admitted {
            stream,
            peer,
            permit,
            probe_only,
        })
    }

    /// Drops the connection (the client reads end-of-stream at once) and counts it.
    fn reject(&mut self, peer: SocketAddr) {
        let server = self.limits.server;
        metrics::counter!(REJECTED.name, "server" => server).increment(1);
        if let Some(quiet) = self.rejected_log.due() {
            let max = self.limits.max_connections;
            tracing::warn!(server, peer = %peer, max_connections = max, refused_since_last_log = quiet,
                "{server} server refused a connection: {max} connections are open \
                 ({server} max_connections); counted in server_connections_rejected_total");
        }
    }

    async fn back_off(&mut self, error: &std::io::Error) {
        let server = self.limits.server;
        metrics::counter!(ACCEPT_ERRORS.name, "server" => server).increment(1);
        let pause = self
            .backoff
            .map_or(FIRST_BACKOFF, |b| (b * 2).min(MAX_BACKOFF));
        self.backoff = Some(pause);
        if let Some(quiet) = self.error_log.due() {
            tracing::error!(server, error = %error, retry_in = ?pause, failed_since_last_log = quiet,
                "{server} server cannot accept connections (out of file descriptors? raise \
                 `ulimit -n` or lower max_connections); retrying");
        }
        tokio::time::sleep(pause).await;
    }
}

/// Errors that concern one connection that is already gone, not the listener.
fn is_peer_gone(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused
    )
}

/// "Log now?": at most once per [`LOG_EVERY`], with the number of quiet calls since.
#[derive(Default)]
pub(crate) struct Quiet {
    last: Option<Instant>,
    quiet: u64,
}

impl Quiet {
    pub(crate) fn due(&mut self) -> Option<u64> {
        let now = Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < LOG_EVERY => {
                self.quiet = self.quiet.saturating_add(1);
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.quiet))
            }
        }
    }
}
