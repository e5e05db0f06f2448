//! [`MetricsSettings`]: the `[metrics]` section of a service's config.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How the metrics recorder behaves. Every field has a default that works, so
/// an empty `[metrics]` section (or none at all) is a good configuration.
///
/// ```
/// use boost_metrics::MetricsSettings;
///
/// let settings: MetricsSettings = toml::from_str(r#"
///     cardinality_limit = 500
///     [buckets]
///     payload_size_bytes = [256.0, 1024.0, 65536.0]
/// "#).unwrap();
/// assert_eq!(settings.cardinality_limit, 500);
/// assert!(settings.process_metrics);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MetricsSettings {
    /// Most distinct label sets one metric name may have. Label sets beyond it
    /// are folded into a single series whose label values are all `other`, and
    /// `metrics_cardinality_overflow_total{metric="<name>"}` counts them, so a
    /// bug that puts a user id in a label cannot take Prometheus down.
    /// Must be at least 1. Default: `1000`.
    pub cardinality_limit: usize,
    /// Export the Prometheus standard process metrics (`process_cpu_seconds_total`,
    /// `process_resident_memory_bytes`, `process_open_fds`, …), collected when
    /// `/metrics` is scraped (at most once a second). Default: `true`.
    pub process_metrics: bool,
    /// Export tokio runtime metrics (`tokio_runtime_workers`,
    /// `tokio_runtime_alive_tasks`, `tokio_runtime_global_queue_depth`,
    /// `tokio_runtime_busy_seconds_total`) of the runtime that renders
    /// `/metrics`. Default: `true`.
    pub runtime_metrics: bool,
    /// Histogram bucket upper bounds per metric name, overriding the default.
    /// Histograms not listed here use the OpenTelemetry duration buckets
    /// ([`DURATION_BUCKETS_SECONDS`](crate::conventions::DURATION_BUCKETS_SECONDS),
    /// 5 ms … 10 s). Each list must be non-empty, finite and increasing. Default: empty.
    pub buckets: BTreeMap<String, Vec<f64>>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            cardinality_limit: 1000,
            process_metrics: true,
            runtime_metrics: true,
            buckets: BTreeMap::new(),
        }
    }
}
