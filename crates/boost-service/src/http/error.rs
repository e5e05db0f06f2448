//! [`HttpError`]: why the HTTP server could not start or stopped with an error.

use std::net::SocketAddr;

/// Why the HTTP server failed. Every message says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The listen address could not be bound.
    #[error(
        "HTTP server cannot listen on http.listen {addr}: {source}; is another process \
         using it? set http.listen (or the <SERVICE>__HTTP__LISTEN environment variable) to a free address"
    )]
    Bind {
        /// The address from `http.listen`.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The `[http]` settings break a rule; every problem is listed with its key.
    #[error("{0}")]
    Config(#[source] Box<boost_config::ConfigError>),
    /// The `http.tls` files could not be used (missing, not PEM, an
    /// expired certificate, a key that does not match, a CA bundle holding
    /// a certificate that is not a CA); the message names key and file.
    #[error("HTTP server TLS: {0}")]
    Tls(#[source] boost_tls::TlsError),
}
