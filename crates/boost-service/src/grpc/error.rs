//! [`GrpcError`]: why the gRPC server could not start or stopped with an error.

use std::net::SocketAddr;

/// Why the gRPC server failed. Every message says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GrpcError {
    /// The listen address could not be bound.
    #[error(
        "gRPC server cannot listen on grpc.listen {addr}: {source}; is another process \
         using it? set grpc.listen (or the <SERVICE>__GRPC__LISTEN environment variable) to a free address"
    )]
    Bind {
        /// The address from `grpc.listen`.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The `[grpc]` settings break a rule (e.g. `server.request_timeout = 0s`);
    /// every problem is listed with its key.
    #[error("{0}")]
    Config(#[source] Box<boost_config::ConfigError>),
    /// Server reflection could not be built from the descriptor sets given.
    #[error(
        "gRPC server reflection could not read the file descriptor sets: {0}; pass the \
         encoded FileDescriptorSet your build script wrote, or set grpc.server.reflection = false"
    )]
    Reflection(#[source] tonic_reflection::server::Error),
    /// `[grpc.tls]` names a file that cannot be used (missing, not PEM, an
    /// expired certificate, a key that does not match, a CA bundle holding
    /// a certificate that is not a CA); the message names key and file.
    #[error("gRPC server TLS: {0}")]
    Tls(#[source] boost_tls::TlsError),
    /// The server stopped with a transport error.
    #[error("gRPC server failed: {0}")]
    Serve(#[source] tonic::transport::Error),
}
