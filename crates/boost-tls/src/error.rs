//! [`TlsError`]: why certificates, keys or a CA bundle could not be used.

use std::path::PathBuf;

/// Why TLS could not be set up from its settings, or why a changed file was
/// not taken. Every file error names the config key (`grpc.tls.cert_file`),
/// the file and what is wrong with it; none shows a byte of key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The settings break a rule (see [`ServerTlsSettings`](crate::ServerTlsSettings)).
    #[error(transparent)]
    Settings(#[from] boost_config::ConfigError),
    /// A file cannot be read.
    #[error("cannot read `{key}` ({}): {source}; check the path and that the service may read it", path.display())]
    Read {
        /// The config key naming the file, e.g. `grpc.tls.cert_file`.
        key: String,
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A file is larger than any certificate chain, key or bundle.
    #[error("`{key}` ({}) is larger than {limit} bytes; it is not a PEM certificate, key or bundle", path.display())]
    TooLarge {
        /// The config key naming the file.
        key: String,
        /// The file.
        path: PathBuf,
        /// The bound.
        limit: u64,
    },
    /// A file is not what its key expects: not PEM at all, malformed PEM,
    /// or PEM of the wrong kind (a key where a certificate belongs).
    #[error("`{key}` ({}) {problem}", path.display())]
    Pem {
        /// The config key naming the file.
        key: String,
        /// The file.
        path: PathBuf,
        /// What is wrong, e.g. "holds no PEM `CERTIFICATE` block (found: `PRIVATE KEY`)".
        problem: String,
    },
    /// A certificate in a file cannot be parsed or used.
    #[error("`{key}` ({}): certificate {index} {problem}", path.display())]
    Certificate {
        /// The config key naming the file.
        key: String,
        /// The file.
        path: PathBuf,
        /// Which certificate of the file, from 1.
        index: usize,
        /// What is wrong: not X.509, expired, not yet valid, not a CA.
        problem: String,
    },
    /// The private key cannot be used (its type is not supported, or it is
    /// damaged). The message names the file, never the key.
    #[error("`{key}` ({}): the private key cannot be used: {problem}", path.display())]
    Key {
        /// The config key naming the file.
        key: String,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The private key is not the key of the certificate.
    #[error(
        "`{key_key}` ({}) is not the private key of the certificate in `{cert_key}` ({}); \
         point both at the same pair (a rotation must replace both files)",
        key_path.display(), cert_path.display()
    )]
    KeyMismatch {
        /// The config key naming the certificate file.
        cert_key: String,
        /// The certificate file.
        cert_path: PathBuf,
        /// The config key naming the key file.
        key_key: String,
        /// The key file.
        key_path: PathBuf,
    },
    /// The system's trusted roots could not be loaded (no `ca_file` given).
    #[error(
        "`{key}` is unset and the system's trusted roots cannot be loaded ({problem}); set `{key}` to a CA bundle, or install the system's CA certificates"
    )]
    SystemRoots {
        /// The config key that would name a CA bundle.
        key: String,
        /// What went wrong.
        problem: String,
    },
    /// rustls refused the configuration (e.g. a verifier without roots).
    #[error("`{key}`: TLS cannot be set up: {problem}")]
    Setup {
        /// The config section.
        key: String,
        /// What rustls said.
        problem: String,
    },
}
