//! [`MetricsRecorder`]: the Prometheus recorder behind the cardinality guard.

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::PrometheusRecorder;

use crate::CardinalityGuard;

/// The recorder [`install`](crate::install) makes global: a
/// `metrics-exporter-prometheus` recorder wrapped in a [`CardinalityGuard`].
///
/// Get one without installing it from [`MetricsHandle::build`](crate::MetricsHandle::build),
/// e.g. to use with [`metrics::with_local_recorder`] in tests. Cloning is
/// cheap and every clone records into the same registry.
#[derive(Clone)]
pub struct MetricsRecorder {
    inner: Arc<CardinalityGuard<PrometheusRecorder>>,
}

impl std::fmt::Debug for MetricsRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MetricsRecorder").field(&self.inner).finish()
    }
}

impl MetricsRecorder {
    pub(crate) fn new(guard: CardinalityGuard<PrometheusRecorder>) -> Self {
        Self {
            inner: Arc::new(guard),
        }
    }

    /// Gives every metric recorded without a description a placeholder HELP
    /// line, so the scrape stays valid; describe it properly with a
    /// [`MetricDef`](crate::MetricDef).
    pub(crate) fn describe_undescribed(&self) {
        for (name, kind) in self.inner.undescribed() {
            let help = format!(
                "{name} (no description was given; declare it with boost_metrics::MetricDef and describe_all)"
            );
            match kind {
                crate::MetricKind::Counter => self.describe_counter(name.into(), None, help.into()),
                crate::MetricKind::Gauge => self.describe_gauge(name.into(), None, help.into()),
                crate::MetricKind::Histogram => {
                    self.describe_histogram(name.into(), None, help.into())
                }
            }
        }
    }
}

/// The unit to hand the exporter for metric `name`: `None` when the name
/// already ends with the unit's suffix.
///
/// The exporter uses a description's unit only to append that suffix to the
/// name when it is missing, and checks for it on every sample line of the
/// scrape (17 per histogram label set). When the name already carries it (as
/// every [`conventions`](crate::conventions) name does) the check changes
/// nothing, so it is skipped: the scrape is byte for byte the same, cheaper.
/// This mirrors the exporter's `add_unit_if_missing`.
fn unit_for_exporter(name: &str, unit: Option<Unit>) -> Option<Unit> {
    const KNOWN_SUFFIXES: [&str; 4] = ["_sum", "_count", "_bucket", "_total"];
    let suffix = match unit? {
        Unit::Count => return None, // the exporter never suffixes counts
        Unit::Percent => "ratio",
        other => other.as_str(),
    };
    let stem = KNOWN_SUFFIXES
        .iter()
        .find_map(|known| name.strip_suffix(known))
        .unwrap_or(name);
    if stem.ends_with(suffix) { None } else { unit }
}

impl Recorder for MetricsRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        let unit = unit_for_exporter(key.as_str(), unit);
        self.inner.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        let unit = unit_for_exporter(key.as_str(), unit);
        self.inner.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        let unit = unit_for_exporter(key.as_str(), unit);
        self.inner.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.inner.register_counter(key, metadata)
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.inner.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.inner.register_histogram(key, metadata)
    }
}

#[cfg(test)]
mod tests {
    use metrics::Unit;

    use super::unit_for_exporter;

    #[test]
    fn a_unit_the_name_already_carries_is_not_passed_on() {
        let seconds = Some(Unit::Seconds);
        assert_eq!(
            unit_for_exporter("rpc_server_call_duration_seconds", seconds),
            None
        );
        assert_eq!(unit_for_exporter("cpu_seconds_total", seconds), None);
        assert_eq!(unit_for_exporter("queue_wait_seconds_count", seconds), None);
        assert_eq!(unit_for_exporter("cache_entries", Some(Unit::Count)), None);
        assert_eq!(
            unit_for_exporter("cache_hit_ratio", Some(Unit::Percent)),
            None
        );
        assert_eq!(unit_for_exporter("no_unit", None), None);
    }

    #[test]
    fn a_unit_the_name_lacks_is_passed_on_so_the_exporter_appends_it() {
        let seconds = Some(Unit::Seconds);
        assert_eq!(unit_for_exporter("jobs_wait", seconds), seconds);
        assert_eq!(unit_for_exporter("cpu_total", seconds), seconds);
        assert_eq!(
            unit_for_exporter("payload_seconds", Some(Unit::Bytes)),
            Some(Unit::Bytes)
        );
        assert_eq!(
            unit_for_exporter("cache_hit", Some(Unit::Percent)),
            Some(Unit::Percent)
        );
    }

    /// The scrape of one series of every conventions metric, described with
    /// the unit `unit_of` gives, lines sorted (the exporter's order is a hash order).
    fn scrape_with_units(unit_of: impl Fn(&str, Option<Unit>) -> Option<Unit>) -> Vec<String> {
        use metrics::{Key, Label, Level, Metadata, Recorder};
        use metrics_exporter_prometheus::PrometheusBuilder;

        use crate::{MetricKind, conventions};

        let recorder = PrometheusBuilder::new()
            .with_recommended_naming(true)
            .build_recorder();
        let metadata = Metadata::new(module_path!(), Level::INFO, None);
        for def in conventions::METRICS {
            let (name, help) = (def.name.into(), def.help.into());
            let unit = unit_of(def.name, def.unit);
            let key = Key::from_parts(def.name, vec![Label::new("k", "v")]);
            match def.kind {
                MetricKind::Counter => {
                    recorder.describe_counter(name, unit, help);
                    recorder.register_counter(&key, &metadata).increment(1);
                }
                MetricKind::Gauge => {
                    recorder.describe_gauge(name, unit, help);
                    recorder.register_gauge(&key, &metadata).set(1.0);
                }
                MetricKind::Histogram => {
                    recorder.describe_histogram(name, unit, help);
                    recorder.register_histogram(&key, &metadata).record(0.1);
                }
            }
        }
        let mut lines: Vec<String> = recorder
            .handle()
            .render()
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        lines
    }

    #[test]
    fn dropping_the_units_of_the_conventions_leaves_the_scrape_unchanged() {
        assert_eq!(
            scrape_with_units(unit_for_exporter),
            scrape_with_units(|_, unit| unit)
        );
    }
}
