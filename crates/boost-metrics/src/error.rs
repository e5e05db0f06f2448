//! [`Error`]: what can go wrong when installing metrics.

/// Installing or building the metrics recorder failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A global `metrics` recorder is already installed in this process.
    #[error(
        "a metrics recorder is already installed in this process; call \
         boost_metrics::install once at start-up and clone the MetricsHandle it returns \
         (tests can use MetricsHandle::build with metrics::with_local_recorder instead)"
    )]
    AlreadyInstalled,
    /// The [`MetricsSettings`](crate::MetricsSettings) break one or more of
    /// their rules (`cardinality_limit = 0`, unusable `buckets`, …). It is the
    /// [`ConfigError::Validation`](boost_config::ConfigError::Validation) the
    /// config loader reports for the same settings, listing every problem under
    /// its key (`metrics.cardinality_limit`, `metrics.buckets.<name>`) with
    /// [`Source::Code`](boost_config::Source::Code) as its layer.
    #[error(transparent)]
    Config(boost_config::ConfigError),
}
