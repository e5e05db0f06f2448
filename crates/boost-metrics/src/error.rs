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
    /// `cardinality_limit` is zero.
    #[error("metrics.cardinality_limit must be at least 1 (the default is 1000)")]
    ZeroCardinalityLimit,
    /// [`MetricsHandle::spawn_upkeep`](crate::MetricsHandle::spawn_upkeep) was
    /// called outside a tokio runtime.
    #[error(
        "MetricsHandle::spawn_upkeep needs a tokio runtime; call it from inside one, \
         or call MetricsHandle::run_upkeep every few seconds yourself"
    )]
    NoRuntime,
    /// A bucket list in `metrics.buckets` is unusable.
    #[error(
        "metrics.buckets.{metric} is invalid: {reason}; give a non-empty list of finite \
         upper bounds in increasing order, e.g. [0.005, 0.01, 0.1, 1.0]"
    )]
    InvalidBuckets {
        /// The metric whose buckets were rejected.
        metric: String,
        /// Why they were rejected.
        reason: String,
    },
}
