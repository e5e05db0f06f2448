//! [`CardinalityGuard`]: caps the distinct label sets of each metric.
//!
//! A label fed from unbounded input (a user id, a raw URL path) makes one
//! series per value; enough of them and Prometheus runs out of memory. The
//! guard admits the first `limit` label sets of each metric name; later ones are
//! folded into one series whose label values are all
//! [`other`](crate::conventions::OVERFLOW_LABEL_VALUE) (the label keys stay, so
//! queries keep working), each fold is counted in
//! `metrics_cardinality_overflow_total{metric="<name>"}`, and the first fold of
//! each metric logs one warning.
//!
//! The check happens when a handle is registered. Handles obtained once and
//! kept cost nothing extra per update; the `metrics` macros register on every
//! call, so the admitted-key lookup is a read lock on one of 16 shards and a
//! probe keyed by the hash [`metrics::Key`] already carries.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString, Unit,
};

use crate::MetricKind;
use crate::conventions::{METRIC, METRICS_CARDINALITY_OVERFLOW_TOTAL, OVERFLOW_LABEL_VALUE};

const SHARDS: usize = 16;

/// A [`Recorder`] wrapper that caps the distinct label sets per metric name.
///
/// [`install`](crate::install) always applies it; build one yourself only to
/// guard another recorder.
///
/// ```
/// use boost_metrics::CardinalityGuard;
/// use metrics::Recorder;
///
/// let guard = CardinalityGuard::new(metrics::NoopRecorder, 100);
/// metrics::with_local_recorder(&guard, || {
///     metrics::counter!("logins_total", "user" => "ada").increment(1);
/// });
/// assert_eq!(guard.limit(), 100);
/// ```
pub struct CardinalityGuard<R> {
    inner: R,
    limit: usize,
    admitted: [RwLock<HashSet<u64, BuildHasherDefault<PreHashed>>>; SHARDS],
    names: Mutex<HashMap<String, NameState>>,
    /// Names that were given HELP text.
    described: Mutex<HashSet<String>>,
    /// Set when a name was first registered; cleared by `undescribed`.
    new_names: AtomicBool,
}

impl<R> std::fmt::Debug for CardinalityGuard<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = self
            .names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("CardinalityGuard")
            .field("limit", &self.limit)
            .field("metric_names", &names)
            .finish_non_exhaustive()
    }
}

/// What the guard knows about one metric name.
#[derive(Debug)]
struct NameState {
    kind: MetricKind,
    label_sets: usize,
    /// `metrics_cardinality_overflow_total{metric=<this name>}`, once it was needed.
    overflow: Option<Counter>,
}

impl<R: Recorder> CardinalityGuard<R> {
    /// Wraps `inner`, admitting at most `limit` label sets per metric name
    /// (a `limit` of 0 is treated as 1).
    pub fn new(inner: R, limit: usize) -> Self {
        Self {
            inner,
            limit: limit.max(1),
            admitted: Default::default(),
            names: Mutex::new(HashMap::new()),
            described: Mutex::new(HashSet::new()),
            new_names: AtomicBool::new(false),
        }
    }

    /// Metric names registered but never described, with the kind they were
    /// first registered as. Cheap when no new name appeared since the last call.
    pub(crate) fn undescribed(&self) -> Vec<(String, MetricKind)> {
        // A plain load first: the common case (nothing new since the last
        // scrape) is one read, no atomic write.
        if !self.new_names.load(Ordering::Acquire) || !self.new_names.swap(false, Ordering::AcqRel)
        {
            return Vec::new();
        }
        let names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        let described = self
            .described
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        names
            .iter()
            .filter(|(name, _)| !described.contains(name.as_str()))
            .map(|(name, state)| (name.clone(), state.kind))
            .collect()
    }

    fn note_described(&self, name: &KeyName) {
        let mut described = self
            .described
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !described.contains(name.as_str()) {
            described.insert(name.as_str().to_owned());
        }
    }

    /// The cap on label sets per metric name.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The wrapped recorder.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Unwraps the guard, returning the wrapped recorder.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The key to register: `key` itself when admitted, else its folded form.
    fn admit(&self, key: &Key, kind: MetricKind) -> Option<Key> {
        let hash = key.get_hash();
        let shard = &self.admitted[shard_of(hash)];
        if shard
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&hash)
        {
            return None;
        }
        self.admit_slow(key, hash, kind)
    }

    #[cold]
    fn admit_slow(&self, key: &Key, hash: u64, kind: MetricKind) -> Option<Key> {
        let shard = &self.admitted[shard_of(hash)];
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have admitted it while we waited for the lock.
        if shard
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&hash)
        {
            return None;
        }
        let state = match names.get_mut(key.name()) {
            Some(state) => state,
            None => {
                self.new_names.store(true, Ordering::Release);
                names.entry(key.name().to_owned()).or_insert(NameState {
                    kind,
                    label_sets: 0,
                    overflow: None,
                })
            }
        };
        if state.label_sets < self.limit {
            state.label_sets += 1;
            shard
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(hash);
            return None;
        }
        let overflow = match &state.overflow {
            Some(counter) => counter.clone(),
            None => {
                // The first fold of this metric: warn once, and make its counter.
                tracing::warn!(
                    metric = key.name(),
                    limit = self.limit,
                    "metric {} reached its cardinality limit of {} label sets; further label \
                     sets are recorded under the series whose labels are all \"other\" and \
                     counted in metrics_cardinality_overflow_total. Find the label fed from \
                     unbounded input (ids, raw paths) and bound it, or raise \
                     metrics.cardinality_limit",
                    key.name(),
                    self.limit,
                );
                let overflow = Key::from_parts(
                    METRICS_CARDINALITY_OVERFLOW_TOTAL,
                    vec![Label::new(METRIC, key.name().to_owned())],
                );
                let counter = self.inner.register_counter(
                    &overflow,
                    &Metadata::new(module_path!(), metrics::Level::INFO, None),
                );
                state.overflow = Some(counter.clone());
                counter
            }
        };
        drop(names);
        overflow.increment(1);
        Some(fold(key))
    }
}

/// `key` with every label value replaced by `other`.
fn fold(key: &Key) -> Key {
    let labels: Vec<Label> = key
        .labels()
        .map(|label| Label::new(label.key().to_owned(), OVERFLOW_LABEL_VALUE))
        .collect();
    Key::from_parts(key.name_shared(), labels)
}

fn shard_of(hash: u64) -> usize {
    // Middle bits: the set itself indexes with the low bits and tags with the top ones.
    ((hash >> 32) as usize) % SHARDS
}

impl<R: Recorder> Recorder for CardinalityGuard<R> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.note_described(&key);
        self.inner.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.note_described(&key);
        self.inner.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.note_described(&key);
        self.inner.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        match self.admit(key, MetricKind::Counter) {
            None => self.inner.register_counter(key, metadata),
            Some(folded) => self.inner.register_counter(&folded, metadata),
        }
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        match self.admit(key, MetricKind::Gauge) {
            None => self.inner.register_gauge(key, metadata),
            Some(folded) => self.inner.register_gauge(&folded, metadata),
        }
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        match self.admit(key, MetricKind::Histogram) {
            None => self.inner.register_histogram(key, metadata),
            Some(folded) => self.inner.register_histogram(&folded, metadata),
        }
    }
}

/// A hasher for values that are already hashes: `u64` passes through.
#[derive(Default)]
pub(crate) struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
