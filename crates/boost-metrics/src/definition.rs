//! [`MetricDef`]: declare a metric once — name, kind, unit and HELP text.

use metrics::{Key, Label, Recorder, Unit};

use crate::{CounterHandle, GaugeHandle, HistogramHandle};

/// The Prometheus type of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricKind {
    /// Only goes up (restarts at zero when the process restarts). Name ends in `_total`.
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution, exported with buckets (never as a summary).
    Histogram,
}

/// A metric declared once, with the unit and HELP text every exported metric
/// must have. Keep a `const` table of them next to the code that records, and
/// describe them all at start-up with [`describe_all`].
///
/// ```
/// use boost_metrics::{MetricDef, describe_all};
/// use metrics::Unit;
///
/// const QUEUE_DEPTH: MetricDef = MetricDef::gauge("jobs_queue_depth", "Jobs waiting to run.");
/// const JOB_DURATION: MetricDef =
///     MetricDef::histogram("jobs_run_duration_seconds", "Time to run one job.").with_unit(Unit::Seconds);
///
/// describe_all(&[QUEUE_DEPTH, JOB_DURATION]);
/// metrics::gauge!(QUEUE_DEPTH.name).set(3.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricDef {
    /// The exported name, Prometheus spelling with the unit as suffix
    /// (`_seconds`, `_bytes`) and `_total` on counters.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// The unit, if the metric has one.
    pub unit: Option<Unit>,
    /// The HELP text: one sentence saying what is measured.
    pub help: &'static str,
}

impl MetricDef {
    /// A counter without a unit.
    pub const fn counter(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            kind: MetricKind::Counter,
            unit: None,
            help,
        }
    }

    /// A gauge without a unit.
    pub const fn gauge(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            kind: MetricKind::Gauge,
            unit: None,
            help,
        }
    }

    /// A histogram without a unit (add one with [`with_unit`](Self::with_unit)).
    pub const fn histogram(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            kind: MetricKind::Histogram,
            unit: None,
            help,
        }
    }

    /// The same metric with a unit.
    #[must_use]
    pub const fn with_unit(self, unit: Unit) -> Self {
        Self {
            unit: Some(unit),
            ..self
        }
    }

    /// Describes this metric to `recorder` (HELP text and unit).
    pub fn describe_to(&self, recorder: &dyn Recorder) {
        let (name, unit, help) = (self.name.into(), self.unit, self.help.into());
        match self.kind {
            MetricKind::Counter => recorder.describe_counter(name, unit, help),
            MetricKind::Gauge => recorder.describe_gauge(name, unit, help),
            MetricKind::Histogram => recorder.describe_histogram(name, unit, help),
        }
    }

    /// A counter handle for this metric with these labels, from the current
    /// `metrics` recorder. Get it once and keep it: updating a handle skips
    /// the key building and registry lookup the macros do on every call, and
    /// behind the kit's own recorder it updates the series' cell directly,
    /// without the facade's virtual call (it converts into a
    /// [`metrics::Counter`] where one is needed).
    pub fn register_counter(&self, labels: &[(&'static str, &str)]) -> CounterHandle {
        let key = self.key(labels);
        metrics::with_recorder(|r| CounterHandle::register(r, &key))
    }

    /// A gauge handle for this metric with these labels (see [`register_counter`](Self::register_counter)).
    pub fn register_gauge(&self, labels: &[(&'static str, &str)]) -> GaugeHandle {
        let key = self.key(labels);
        metrics::with_recorder(|r| GaugeHandle::register(r, &key))
    }

    /// A histogram handle for this metric with these labels (see [`register_counter`](Self::register_counter)).
    pub fn register_histogram(&self, labels: &[(&'static str, &str)]) -> HistogramHandle {
        let key = self.key(labels);
        metrics::with_recorder(|r| HistogramHandle::register(r, &key))
    }

    fn key(&self, labels: &[(&'static str, &str)]) -> Key {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label::new(*k, (*v).to_owned()))
            .collect();
        Key::from_parts(self.name, labels)
    }

    /// Describes this metric to the current `metrics` recorder (the local one
    /// if set, else the global one; a no-op when none is installed).
    pub fn describe(&self) {
        metrics::with_recorder(|recorder| self.describe_to(recorder));
    }
}

/// Describes every metric in `defs` to the current `metrics` recorder, so each
/// gets its `# HELP` line. Call it once at start-up, after
/// [`install`](crate::install); describing twice is harmless.
pub fn describe_all(defs: &[MetricDef]) {
    metrics::with_recorder(|recorder| {
        for def in defs {
            def.describe_to(recorder);
        }
    });
}
