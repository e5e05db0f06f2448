//! TLS and mTLS for team-boost services: one `tls` config shape, checked
//! at start, built into rustls configs whose certificates rotate without a
//! restart.
//!
//! # The common case
//!
//! A server section (`[grpc.tls]`) becomes a [`ServerTls`]; its
//! `rustls::ServerConfig` goes to whatever accepts connections, and its
//! [`Watch`] keeps the files current:
//!
//! ```
//! use boost_tls::{ClientAuth, ServerTls, ServerTlsSettings};
//!
//! let settings: ServerTlsSettings = toml::from_str(r#"
//!     enabled = true
//!     cert_file = "/no/such/tls.crt"
//!     key_file = "/no/such/tls.key"
//!     ca_file = "/no/such/ca.crt"
//!     client_auth = "require"
//! "#).unwrap();
//! assert_eq!(settings.client_auth, ClientAuth::Require);
//!
//! // Every file is read and checked at start; the error names the key and the file.
//! let error = ServerTls::from_settings("grpc.tls", &settings).unwrap_err();
//! assert!(error.to_string().starts_with("cannot read `grpc.tls.cert_file` (/no/such/tls.crt)"));
//! ```
//!
//! A client section becomes a [`ClientTls`] and its `rustls::ClientConfig`
//! (boost-rpc's `https` endpoints and OTLP export use it).
//!
//! # What is checked, at start and on every rotation
//!
//! | problem | error |
//! |---|---|
//! | a file is missing or unreadable | [`TlsError::Read`] |
//! | larger than 1 MiB (`/dev/zero`, a disk image) | [`TlsError::TooLarge`] |
//! | not PEM, broken PEM, or PEM of the wrong kind (a key in `cert_file`) | [`TlsError::Pem`] |
//! | a certificate that is not X.509, expired, or not valid yet | [`TlsError::Certificate`] |
//! | a chain that starts with a CA certificate | [`TlsError::Certificate`] |
//! | a key of an unsupported type | [`TlsError::Key`] |
//! | a key that is not the certificate's | [`TlsError::KeyMismatch`] |
//! | a `ca_file` certificate that is not a CA (`basicConstraints CA:TRUE`) | [`TlsError::Certificate`] |
//!
//! Each names the config key (`grpc.tls.key_file`), the file and what is
//! wrong, and never a byte of what a file holds. A CA in a bundle that is out
//! of date is skipped with a warning while another one is valid (a bundle in
//! the middle of a CA rotation holds both).
//!
//! # Rotation
//!
//! [`ServerTls::watch`] and [`ClientTls::watch`] return a [`Watch`], a
//! future to spawn. It watches the files' directories (cert-manager, Vault
//! agent and Kubernetes secret volumes replace files by rename or symlink
//! swap) and re-checks every `reload_interval` for mounts where events do
//! not arrive. When the content changed and passes every check above, new
//! handshakes use it; connections already established keep theirs. When it
//! does not pass, the log says why (`warn`, no secrets), it is counted once
//! in `tls_reload_total{role,outcome="error"}`, and the files in use stay.
//!
//! # Metrics
//!
//! Through the `metrics` facade ([`metrics`] has the names):
//! `tls_certificate_expiry_timestamp_seconds{role,subject}` — one series per
//! configured certificate; a replaced certificate's series reads `NaN`
//! (the facade cannot remove a series, and no expiry alert matches `NaN`) —
//! and `tls_reload_total{role,outcome}`.
//!
//! # Crypto provider
//!
//! rustls with *ring* only: it builds with the C compiler every machine has.
//! aws-lc-rs, rustls' default, needs cmake (and clang on some targets). Every
//! config here is built with an explicit ring provider, so another crate
//! enabling aws-lc-rs changes nothing.
#![deny(missing_docs)]

mod client;
mod error;
mod identity;
mod inspect;
mod material;
pub mod metrics;
mod pem;
mod reload;
mod server;
mod settings;
mod swap;
mod watch;

pub use client::ClientTls;
pub use error::TlsError;
pub use identity::PeerIdentity;
pub use server::ServerTls;
pub use settings::{
    ClientAuth, ClientTlsSettings, DEFAULT_RELOAD_INTERVAL, MIN_RELOAD_INTERVAL, ServerTlsSettings,
};
pub use watch::Watch;

/// The rustls crates this one builds on, at the versions it is built with,
/// for code that takes the configs further (a connector, an acceptor).
pub use {rustls, rustls_pki_types, tokio_rustls};
