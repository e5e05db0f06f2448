//! [`TrackedStream`]: an accepted TCP stream that holds its connection permit
//! and ends itself (end-of-stream to the HTTP server reading it) when its
//! connection has been idle too long or sent no request in time.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Sleep;
use tonic::transport::server::{Connected, TcpConnectInfo};

use super::activity::Verdict;
use super::metrics::{ACTIVE, TIMED_OUT};
use super::{Activity, Admitted, ConnectionLimits, Registry};

/// The header-read and idle timeouts of a connection admitted from the probe
/// reserve (at most; kubelet's probe timeout is 1 s by default).
const PROBE_HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// An admitted connection. The HTTP server (hyper, under tonic or the admin
/// server) always has a read pending on its connection, so the timer is polled
/// from `poll_read`; when it decides to close, reads return end-of-stream and
/// the server drops the connection.
pub(crate) struct TrackedStream {
    stream: TcpStream,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    activity: Arc<Activity>,
    limits: ConnectionLimits,
    timer: Pin<Box<Sleep>>,
    closed: bool,
    registry: Option<Arc<Registry>>,
    _permit: OwnedSemaphorePermit,
}

impl TrackedStream {
    /// Wraps `admitted`; with a `registry`, requests find this connection's
    /// [`Activity`] by its peer address (tonic).
    pub(crate) fn new(
        admitted: Admitted,
        limits: ConnectionLimits,
        registry: Option<Arc<Registry>>,
    ) -> Self {
        let mut limits = limits;
        if admitted.probe_only {
            // A reserve connection is for a probe, which sends its request at
            // once: one that does not must not hold the reserve for long.
            limits.header_read_timeout = limits.header_read_timeout.min(PROBE_HEADER_TIMEOUT);
            limits.idle_timeout = limits.idle_timeout.min(PROBE_HEADER_TIMEOUT);
        }
        let activity = Activity::new(admitted.probe_only);
        if let Some(registry) = &registry {
            registry.insert(admitted.peer, &activity);
        }
        metrics::gauge!(ACTIVE.name, "server" => limits.server).increment(1.0);
        let first = activity.first_deadline(limits.header_read_timeout);
        Self {
            local: admitted.stream.local_addr().ok(),
            stream: admitted.stream,
            peer: admitted.peer,
            timer: Box::pin(tokio::time::sleep_until(first.into())),
            activity,
            limits,
            closed: false,
            registry,
            _permit: admitted.permit,
        }
    }

    /// This connection's requests, for servers that build a service per connection.
    pub(crate) fn activity(&self) -> Arc<Activity> {
        Arc::clone(&self.activity)
    }

    /// `true` once the timer decided to close the connection.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        while !self.closed && self.timer.as_mut().poll(cx).is_ready() {
            let limits = &self.limits;
            match self.activity.check(
                Instant::now(),
                limits.idle_timeout,
                limits.header_read_timeout,
            ) {
                Verdict::Recheck(at) => self.timer.as_mut().reset(at.into()),
                Verdict::Close(reason) => {
                    self.closed = true;
                    metrics::counter!(TIMED_OUT.name, "server" => limits.server, "reason" => reason)
                        .increment(1);
                    tracing::debug!(server = limits.server, peer = %self.peer, reason,
                    "closing a connection: {}", match reason {
                        "idle" => "no request in flight for the idle timeout",
                        _ => "no complete request within the header read timeout",
                    });
                }
            }
        }
        self.closed
    }
}

impl Drop for TrackedStream {
    fn drop(&mut self) {
        metrics::gauge!(ACTIVE.name, "server" => self.limits.server).decrement(1.0);
        if let Some(registry) = &self.registry {
            registry.remove(self.peer, &self.activity);
        }
    }
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.poll_timer(cx) {
            // End-of-stream: the HTTP server closes the connection.
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if this.limits.http1 && buf.filled().len() > before {
            this.activity.bytes_arrived();
            // The head deadline may be sooner than the timer's.
            if let Verdict::Recheck(at) = this.activity.check(
                Instant::now(),
                this.limits.idle_timeout,
                this.limits.header_read_timeout,
            ) && at < this.timer.deadline().into_std()
            {
                this.timer.as_mut().reset(at.into());
                let _ = this.timer.as_mut().poll(cx);
            }
        }
        read
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// tonic puts this on every request (`Request::remote_addr` reads it).
impl Connected for TrackedStream {
    type ConnectInfo = TcpConnectInfo;
    fn connect_info(&self) -> TcpConnectInfo {
        TcpConnectInfo {
            local_addr: self.local,
            remote_addr: Some(self.peer),
        }
    }
}
