//! [`MetricsRecorder`]: the Prometheus recorder behind the cardinality guard.

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

use crate::CardinalityGuard;
use crate::store::{ScrapeFormat, Store};

/// The recorder [`install`](crate::install) makes global: the kit's
/// atomic store (every series a few atomics, histograms as fixed bucket
/// counters) wrapped in a [`CardinalityGuard`].
///
/// Get one without installing it from [`MetricsHandle::build`](crate::MetricsHandle::build),
/// e.g. to use with [`metrics::with_local_recorder`] in tests. Cloning is
/// cheap and every clone records into the same registry.
#[derive(Clone)]
pub struct MetricsRecorder {
    inner: Arc<CardinalityGuard<Store>>,
}

impl std::fmt::Debug for MetricsRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MetricsRecorder").field(&self.inner).finish()
    }
}

impl MetricsRecorder {
    pub(crate) fn new(guard: CardinalityGuard<Store>) -> Self {
        Self {
            inner: Arc::new(guard),
        }
    }

    /// Where this recorder sits: when the kit is registering one of its own
    /// handles, it is told the cell came from the recorder at this address
    /// (see [`CounterHandle`](crate::CounterHandle)).
    fn address(&self) -> usize {
        std::ptr::from_ref(self).cast::<()>().addr()
    }

    /// Appends the scrape of every series recorded here to `out`.
    pub(crate) fn render_into(&self, out: &mut String, format: ScrapeFormat) {
        self.inner.get_ref().render_into(out, format);
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

impl Recorder for MetricsRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        let handle = self.inner.register_counter(key, metadata);
        crate::store::stamp(self.address());
        handle
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        let handle = self.inner.register_gauge(key, metadata);
        crate::store::stamp(self.address());
        handle
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        let handle = self.inner.register_histogram(key, metadata);
        crate::store::stamp(self.address());
        handle
    }
}
