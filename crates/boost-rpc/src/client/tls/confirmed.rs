//! [`Confirmed`]: a TLS 1.3 connection the server has accepted.
//!
//! In TLS 1.3 the client's side of the handshake ends before the server
//! has checked the client's certificate. A server that refuses it (none
//! shown, from another CA, expired) answers with an alert and closes — and
//! since the client has sent its first request by then, the close is
//! often a TCP reset that loses the alert. The call would fail as an
//! unclassified "transport error", perhaps processed, and the endpoint
//! would look healthy to every reconnect.
//!
//! So the connector waits for the server's first bytes (its HTTP/2
//! `SETTINGS`, which every gRPC server sends at once) before handing the
//! connection to hyper: an alert, a close or a reset then fails the
//! *connect*, saying the server refused the handshake — an unsent error,
//! retried on another endpoint, with the reconnect backoff. The wait is
//! bounded ([`CONFIRM_WAIT`]); a server that stays silent is used as it is.
//! The bytes read are given to hyper first.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};

/// The longest wait for the server's first bytes after a TLS 1.3
/// handshake: far more than a round trip in a cluster, and short enough
/// that a server that waits for the client to speak first is barely slowed.
pub(crate) const CONFIRM_WAIT: Duration = Duration::from_millis(250);

/// A connection whose first bytes from the server were read ahead.
pub(crate) struct Confirmed<S> {
    inner: S,
    read_ahead: Vec<u8>,
    pos: usize,
}

impl<S: AsyncRead + Unpin> Confirmed<S> {
    /// Waits up to `wait` for the server's first bytes on `inner`.
    ///
    /// # Errors
    /// The server closed, reset or alerted instead: it refused the handshake.
    pub(crate) async fn wait(mut inner: S, wait: Duration) -> io::Result<Self> {
        let mut read_ahead = vec![0; 4096];
        let read = match tokio::time::timeout(wait, inner.read(&mut read_ahead)).await {
            Ok(Ok(0)) => {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the server refused the TLS handshake: it closed the connection at once \
                     (it did not accept the client certificate, or the lack of one)",
                ));
            }
            Ok(Ok(read)) => read,
            Ok(Err(error)) => {
                let why = super::handshake_refusal(&error).unwrap_or_else(|| {
                    format!(
                        "the server refused the TLS handshake: it ended the connection at once \
                         ({error}; it did not accept the client certificate, or the lack of one)"
                    )
                });
                return Err(io::Error::new(error.kind(), why));
            }
            Err(_) => 0, // nothing yet: carry on
        };
        read_ahead.truncate(read);
        Ok(Self {
            inner,
            read_ahead,
            pos: 0,
        })
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Confirmed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.read_ahead.len() {
            let n = buf.remaining().min(self.read_ahead.len() - self.pos);
            let start = self.pos;
            buf.put_slice(&self.read_ahead[start..start + n]);
            self.pos += n;
            if self.pos == self.read_ahead.len() {
                self.read_ahead = Vec::new();
                self.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Confirmed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt as _;

    use super::*;

    #[tokio::test]
    async fn bytes_read_ahead_are_read_first_then_the_stream() {
        let (client, mut server) = tokio::io::duplex(64);
        server.write_all(b"SETTINGS").await.unwrap();
        let mut confirmed = Confirmed::wait(client, CONFIRM_WAIT).await.unwrap();
        server.write_all(b" then more").await.unwrap();
        drop(server);
        let mut all = String::new();
        confirmed.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "SETTINGS then more");
    }

    #[tokio::test]
    async fn a_close_right_after_the_handshake_is_a_refusal() {
        let (client, server) = tokio::io::duplex(64);
        drop(server);
        let Err(error) = Confirmed::wait(client, CONFIRM_WAIT).await else {
            panic!("a closed connection was confirmed");
        };
        assert!(
            error.to_string().contains("refused the TLS handshake"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_silent_server_is_used_after_the_wait() {
        let (client, _server) = tokio::io::duplex(64);
        let confirmed = Confirmed::wait(client, Duration::from_millis(10))
            .await
            .unwrap();
        assert!(confirmed.read_ahead.is_empty());
    }
}
