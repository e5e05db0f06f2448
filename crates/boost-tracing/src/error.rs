//! The errors boost-tracing reports.

/// What went wrong setting up or changing logging and tracing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `init` ran before in this process (a global subscriber can be installed only once).
    #[error(
        "logging is already initialised in this process: call boost_tracing::init once, at start-up \
         (in tests, use boost_tracing::testing::Capture or Builder::build instead)"
    )]
    AlreadyInitialised,
    /// A log filter string is not valid `RUST_LOG` syntax.
    #[error(
        "invalid log filter {filter:?}: {reason} (expected RUST_LOG syntax, e.g. \"info,my_crate=debug\")"
    )]
    InvalidFilter {
        /// The rejected filter.
        filter: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The log filter could not be swapped (the subscriber it belonged to is gone).
    #[error("the log filter can no longer be changed: {0} (was the TracingGuard dropped?)")]
    FilterReload(String),
    /// A setting is out of range.
    #[error("invalid tracing setting `{key}`: {reason}")]
    InvalidSetting {
        /// The setting, e.g. `otlp.sample_ratio`.
        key: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// The OTLP exporter could not be built (bad endpoint, header, or runtime).
    #[error("cannot set up OTLP span export to {endpoint}: {reason} (check tracing.otlp settings)")]
    Otlp {
        /// The configured endpoint.
        endpoint: String,
        /// What failed.
        reason: String,
    },
    /// The background writer thread could not be started.
    #[error(
        "cannot start the log writer thread: {0} (the process may be at its thread or memory \
         limit; check ulimit -u and the container's pids limit)"
    )]
    Writer(#[source] std::io::Error),
}
