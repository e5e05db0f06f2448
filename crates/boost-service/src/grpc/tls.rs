//! gRPC over TLS: the connections the accept loop admits, with the TLS
//! handshake done off the loop, and the caller's identity on each request.
//!
//! A handshake runs in its own task, bounded by `grpc.tls.handshake_timeout`
//! and by the connection cap (an admitted connection holds its permit while
//! it shakes hands), so a slow, silent or garbage-sending peer delays no one
//! else. A failed handshake is counted in
//! `tls_handshake_failures_total{server,reason}` (`reason`: `timeout`,
//! `refused`) and logged at most every 10 s.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use boost_metrics::MetricDef;
use boost_tls::tokio_rustls::TlsAcceptor;
use boost_tls::tokio_rustls::server::TlsStream;
use boost_tls::{PeerIdentity, ServerTls};
use futures::stream::BoxStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::connections::{Acceptor, ConnectionLimits, Quiet, Registry, TrackedStream};

/// Counter: TLS handshakes that failed. Labels `server`, `reason`
/// (`timeout`, `refused`).
const HANDSHAKE_FAILURES: &str = boost_metrics::conventions::TLS_HANDSHAKE_FAILURES_TOTAL;

/// Describes the TLS metrics (HELP and TYPE lines). `boost_metrics::install`
/// describes every conventions metric already; this covers a recorder that
/// was built another way.
pub(crate) fn describe() {
    let names = [
        boost_metrics::conventions::TLS_CERTIFICATE_EXPIRY,
        boost_metrics::conventions::TLS_RELOAD_TOTAL,
        HANDSHAKE_FAILURES,
    ];
    let defs: Vec<MetricDef> = boost_metrics::conventions::METRICS
        .iter()
        .filter(|def| names.contains(&def.name))
        .copied()
        .collect();
    boost_metrics::describe_all(&defs);
}

/// Counts one failed handshake of `server` (`grpc`, `admin`).
pub(crate) fn count_handshake_failure(server: &'static str, reason: &'static str) {
    metrics::counter!(HANDSHAKE_FAILURES, "server" => server, "reason" => reason).increment(1);
}

/// A connection the gRPC server serves: plaintext or TLS. One per
/// connection, moved once: the plaintext one is not boxed so that serving
/// without TLS allocates nothing more than before.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Conn {
    Plain(TrackedStream),
    Tls(Box<TlsStream<TrackedStream>>),
}

/// What tonic puts on every request of a connection; [`SplitConnInfoLayer`]
/// turns it into the [`TcpConnectInfo`] tonic's `remote_addr` reads and the
/// caller's [`PeerIdentity`].
#[derive(Clone, Debug)]
pub(crate) struct ConnInfo {
    tcp: TcpConnectInfo,
    peer: Option<PeerIdentity>,
}

impl Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        match self {
            Conn::Plain(stream) => ConnInfo {
                tcp: stream.connect_info(),
                peer: None,
            },
            Conn::Tls(stream) => {
                let (tcp, session) = stream.get_ref();
                ConnInfo {
                    tcp: tcp.connect_info(),
                    peer: PeerIdentity::from_chain(session.peer_certificates()),
                }
            }
        }
    }
}

/// The connections of `acceptor`: as accepted, or after a TLS handshake.
pub(crate) fn incoming(
    acceptor: Acceptor,
    limits: ConnectionLimits,
    registry: Arc<Registry>,
    tls: Option<ServerTls>,
) -> BoxStream<'static, io::Result<Conn>> {
    match tls {
        None => Box::pin(futures::stream::unfold(acceptor, move |mut acceptor| {
            let registry = Arc::clone(&registry);
            async move {
                let admitted = acceptor.accept().await;
                let stream = TrackedStream::new(admitted, limits, Some(registry));
                Some((Ok(Conn::Plain(stream)), acceptor))
            }
        })),
        Some(tls) => handshaken(acceptor, limits, registry, tls),
    }
}

fn handshaken(
    mut acceptor: Acceptor,
    limits: ConnectionLimits,
    registry: Arc<Registry>,
    tls: ServerTls,
) -> BoxStream<'static, io::Result<Conn>> {
    // Unbounded, yet bounded: every item holds a connection permit.
    let (ready, mut connections) = tokio::sync::mpsc::unbounded_channel();
    let handshakes = TlsAcceptor::from(tls.server_config([b"h2".to_vec()]));
    let timeout = tls.handshake_timeout();
    let failures = Arc::new(std::sync::Mutex::new(Quiet::default()));
    let accepting = tokio::spawn(async move {
        loop {
            let admitted = tokio::select! {
                admitted = acceptor.accept() => admitted,
                () = ready.closed() => return,
            };
            let peer = admitted.peer;
            let stream = TrackedStream::new(admitted, limits, Some(Arc::clone(&registry)));
            let ready = ready.clone();
            let handshakes = handshakes.clone();
            let failures = Arc::clone(&failures);
            tokio::spawn(async move {
                let reason = match tokio::time::timeout(timeout, handshakes.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        let _ = ready.send(Conn::Tls(Box::new(stream)));
                        return;
                    }
                    Ok(Err(error)) => ("refused", error.to_string()),
                    Err(_) => ("timeout", format!("no handshake within {timeout:?}")),
                };
                count_handshake_failure(limits.server, reason.0);
                let due = failures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .due();
                match due {
                    Some(quiet) => tracing::warn!(server = limits.server, peer = %peer,
                        reason = reason.0, error = %reason.1, failed_since_last_log = quiet,
                        "TLS handshake failed; counted in tls_handshake_failures_total"),
                    None => tracing::debug!(server = limits.server, peer = %peer,
                        reason = reason.0, error = %reason.1, "TLS handshake failed"),
                }
            });
        }
    });
    let stop = AbortOnDrop(accepting);
    Box::pin(futures::stream::poll_fn(move |cx| {
        let _ = &stop;
        connections.poll_recv(cx).map(|conn| conn.map(Ok))
    }))
}

/// Stops a task when dropped: the accept task (closing the listener) when
/// tonic drops the stream of connections at shutdown, the rotation watch
/// when the server stops.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Layer that moves [`ConnInfo`] into what handlers and the other layers
/// read: [`TcpConnectInfo`] (`Request::remote_addr`, connection activity)
/// and the caller's [`PeerIdentity`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SplitConnInfoLayer;

impl<S> tower::Layer<S> for SplitConnInfoLayer {
    type Service = SplitConnInfo<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SplitConnInfo { inner }
    }
}

/// The service [`SplitConnInfoLayer`] builds.
#[derive(Clone, Debug)]
pub(crate) struct SplitConnInfo<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for SplitConnInfo<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if let Some(info) = request.extensions_mut().remove::<ConnInfo>() {
            request.extensions_mut().insert(info.tcp);
            if let Some(peer) = info.peer {
                request.extensions_mut().insert(peer);
            }
        }
        self.inner.call(request)
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Conn::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Conn::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Conn::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Conn::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Conn::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(stream) => stream.is_write_vectored(),
            Conn::Tls(stream) => stream.is_write_vectored(),
        }
    }
}
