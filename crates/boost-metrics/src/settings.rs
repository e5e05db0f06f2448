//! [`MetricsSettings`]: the `[metrics]` section of a service's config.

use std::collections::BTreeMap;

use boost_config::Problems;
use serde::{Deserialize, Serialize};

use crate::{MetricKind, conventions};

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
///
/// Its [`Validate`](boost_config::Validate) rules report every unusable value
/// under its key — the config loader runs them, and so do
/// [`install`](crate::install) and [`MetricsHandle::build`](crate::MetricsHandle::build),
/// which return the same problems as [`Error::Config`](crate::Error::Config):
///
/// ```
/// use boost_config::Problems;
/// use boost_metrics::MetricsSettings;
///
/// let mut settings = MetricsSettings::default();
/// settings.cardinality_limit = 0;
/// settings.buckets.insert("payload size".into(), vec![1.0, 0.5]);
/// let problems = Problems::of("metrics", &settings);
/// assert_eq!(problems.keys().collect::<Vec<_>>(), [
///     "metrics.cardinality_limit",
///     "metrics.buckets.payload size", // not a Prometheus metric name
///     "metrics.buckets.payload size", // not increasing
/// ]);
/// ```
#[derive(
    Clone, Debug, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[validate(custom = rules)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MetricsSettings {
    /// Most distinct label sets one metric name may have. Label sets beyond it
    /// are folded into a single series whose label values are all `other`, and
    /// `metrics_cardinality_overflow_total{metric="<name>"}` counts them, so a
    /// bug that puts a user id in a label cannot take Prometheus down.
    /// At least 1. Default: `1000`.
    pub cardinality_limit: usize,
    /// Export the Prometheus standard process metrics (`process_cpu_seconds_total`,
    /// `process_resident_memory_bytes`, `process_open_fds`, …), collected when
    /// `/metrics` is scraped (at most once a second). Default: `true`.
    pub process_metrics: bool,
    /// Export tokio runtime metrics (`tokio_runtime_workers`,
    /// `tokio_runtime_alive_tasks`, `tokio_runtime_global_queue_depth`,
    /// `tokio_runtime_busy_seconds_total`) of the runtime that serves
    /// `/metrics`. Default: `true`.
    pub runtime_metrics: bool,
    /// Histogram bucket upper bounds per histogram name: a list of numbers
    /// (for instance 256, 1024 and 65536 for `payload_size_bytes`) replacing
    /// the default buckets for that histogram. Histograms not listed use the OpenTelemetry
    /// duration buckets (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75,
    /// 1, 2.5, 5, 7.5, 10 seconds). Each name must be a Prometheus metric name
    /// of a histogram (not a counter, gauge or `_bucket` series), and each list
    /// non-empty, finite and strictly increasing. Default: empty (every
    /// histogram uses the duration buckets).
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

/// The metrics the kit exports that are not histograms: buckets for them are
/// never used.
const NOT_HISTOGRAMS: &[&str] = &[
    conventions::PROCESS_CPU_SECONDS_TOTAL,
    conventions::PROCESS_RESIDENT_MEMORY_BYTES,
    conventions::PROCESS_VIRTUAL_MEMORY_BYTES,
    conventions::PROCESS_OPEN_FDS,
    conventions::PROCESS_MAX_FDS,
    conventions::PROCESS_START_TIME_SECONDS,
    conventions::PROCESS_THREADS,
    conventions::TOKIO_RUNTIME_WORKERS,
    conventions::TOKIO_RUNTIME_ALIVE_TASKS,
    conventions::TOKIO_RUNTIME_GLOBAL_QUEUE_DEPTH,
    conventions::TOKIO_RUNTIME_BUSY_SECONDS_TOTAL,
];

/// The rules of [`MetricsSettings`] beyond each field's type; every broken one
/// is reported.
fn rules(settings: &MetricsSettings, problems: &mut Problems) {
    if settings.cardinality_limit == 0 {
        problems.add(
            "cardinality_limit",
            "is 0, so every label set would be folded into `other`; set it to at least 1 \
             (the default is 1000)",
        );
    }
    for (metric, bounds) in &settings.buckets {
        let key = format!("buckets.{metric}");
        if let Some(problem) = name_problem(metric) {
            problems.add(&key, problem);
        }
        if let Some(problem) = bounds_problem(bounds) {
            problems.add(&key, problem);
        }
    }
}

/// What is wrong with `metric` as the name of a histogram to give buckets to.
fn name_problem(metric: &str) -> Option<String> {
    if !is_metric_name(metric) {
        return Some(format!(
            "{metric:?} is not a Prometheus metric name (letters, digits, `_` and `:`, not \
             starting with a digit), so no histogram has it and the buckets would never be used"
        ));
    }
    let kit_kind = conventions::METRICS
        .iter()
        .find(|def| def.name == metric)
        .map(|def| def.kind);
    if let Some(kind) = kit_kind.filter(|kind| *kind != MetricKind::Histogram) {
        let kind = if kind == MetricKind::Counter {
            "a counter"
        } else {
            "a gauge"
        };
        return Some(format!(
            "`{metric}` is {kind}, not a histogram; buckets apply to histograms only"
        ));
    }
    if NOT_HISTOGRAMS.contains(&metric) {
        return Some(format!(
            "`{metric}` is a process or runtime metric, not a histogram; buckets apply to \
             histograms only"
        ));
    }
    if let Some(histogram) = metric.strip_suffix("_bucket") {
        return Some(format!(
            "`{metric}` names the bucket series of a histogram; give the histogram's own name, \
             `{histogram}`"
        ));
    }
    if metric.ends_with("_total") {
        return Some(format!(
            "`{metric}` is a counter's name (it ends in `_total`); buckets apply to histograms only"
        ));
    }
    None
}

/// What is wrong with `bounds` as histogram bucket upper bounds.
fn bounds_problem(bounds: &[f64]) -> Option<String> {
    const EXAMPLE: &str = "e.g. [0.005, 0.01, 0.1, 1.0]";
    if bounds.is_empty() {
        return Some(format!(
            "is empty; give at least one upper bound, {EXAMPLE}, or remove the entry to use \
             the default buckets"
        ));
    }
    if let Some(bad) = bounds.iter().find(|b| !b.is_finite()) {
        return Some(format!(
            "{bad} is not a finite number; list finite upper bounds ({EXAMPLE}): every \
             histogram gets a `+Inf` bucket of its own"
        ));
    }
    // The store assumes sorted bounds: unsorted ones would count samples into the
    // wrong buckets and export `le` lines out of order.
    bounds
        .windows(2)
        .find(|pair| pair[0] >= pair[1])
        .map(|pair| {
            format!(
                "{} comes after {}; list the bounds in strictly increasing order, each once \
                 ({EXAMPLE})",
                pair[1], pair[0]
            )
        })
}

/// Whether `name` matches `[a-zA-Z_:][a-zA-Z0-9_:]*`, the Prometheus metric name syntax.
fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::is_metric_name;

    #[test]
    fn metric_names_follow_the_prometheus_syntax() {
        for good in ["payload_size_bytes", "_x", "ns:job:rate5m", "A1"] {
            assert!(is_metric_name(good), "{good}");
        }
        for bad in [
            "",
            "1st",
            "payload size",
            "http.server.duration",
            "caché",
            "a-b",
        ] {
            assert!(!is_metric_name(bad), "{bad}");
        }
    }
}
