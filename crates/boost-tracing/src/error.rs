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
    /// The [`TracingSettings`](crate::TracingSettings) break one or more of their rules (a
    /// zero `flush_timeout`, `otlp.sample_ratio` outside `0.0..=1.0`, an invalid `filter`, …).
    /// It is the [`ConfigError::Validation`](boost_config::ConfigError::Validation) the config
    /// loader reports for the same settings, listing every problem under its key
    /// (`tracing.flush_timeout`, `tracing.otlp.sample_ratio`) with
    /// [`Source::Code`](boost_config::Source::Code) as its layer.
    #[error(transparent)]
    Config(boost_config::ConfigError),
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
