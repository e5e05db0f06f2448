//! The values behind each series: plain atomics, updated where the
//! observation happens, read where the scrape is written.
//!
//! A kept `metrics` handle wraps an `Arc` of one of these, so an update is a
//! virtual call and one or two atomic operations — nothing is queued, and no
//! upkeep is needed for a scrape to see every observation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{CounterFn, GaugeFn, HistogramFn};

use super::exemplar::{self, Epoch, Exemplar, ExemplarSlot};

/// A monotonic `u64`.
#[derive(Debug, Default)]
pub(crate) struct CounterCell(AtomicU64);

impl CounterCell {
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl CounterFn for CounterCell {
    #[inline]
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }

    fn absolute(&self, value: u64) {
        self.0.fetch_max(value, Ordering::Relaxed);
    }
}

/// An `f64` stored as its bits.
#[derive(Debug, Default)]
pub(crate) struct GaugeCell(AtomicU64);

impl GaugeCell {
    pub(crate) fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// Adds `delta` to the `f64` whose bits `cell` holds.
#[inline]
fn add_f64(cell: &AtomicU64, delta: f64) {
    let mut current = cell.load(Ordering::Relaxed);
    loop {
        let next = (f64::from_bits(current) + delta).to_bits();
        match cell.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}

impl GaugeFn for GaugeCell {
    fn increment(&self, value: f64) {
        add_f64(&self.0, value);
    }

    fn decrement(&self, value: f64) {
        add_f64(&self.0, -value);
    }

    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }
}

/// The bucket upper bounds of a histogram, with their `le` label values
/// formatted once (not on every scrape).
#[derive(Debug)]
pub(crate) struct Bounds {
    pub(crate) upper: Box<[f64]>,
    pub(crate) le: Box<[String]>,
}

impl Bounds {
    pub(crate) fn new(upper: &[f64]) -> Arc<Self> {
        Arc::new(Self {
            upper: upper.into(),
            le: upper.iter().map(f64::to_string).collect(),
        })
    }
}

/// Fixed buckets counted at observation: one counter per bucket (the last is
/// `+Inf`) and the sum. `_count` is the sum of the buckets, so it always
/// equals the `+Inf` bucket, and one observation is two atomic operations.
#[derive(Debug)]
pub(crate) struct HistogramCell {
    pub(crate) bounds: Arc<Bounds>,
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
    /// The latest exemplar per bucket (same length as `buckets`).
    exemplars: Box<[ExemplarSlot]>,
    /// The scrape epoch of the store this histogram belongs to.
    epoch: Arc<Epoch>,
}

/// What a scrape reads from one histogram.
pub(crate) struct HistogramSnapshot<'a> {
    /// Cumulative counts, one per bound then `+Inf`.
    pub(crate) cumulative: &'a [u64],
    pub(crate) sum: f64,
}

impl HistogramCell {
    pub(crate) fn new(bounds: Arc<Bounds>, epoch: Arc<Epoch>) -> Self {
        let n = bounds.upper.len() + 1;
        Self {
            bounds,
            buckets: (0..n).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
            exemplars: (0..n).map(|_| ExemplarSlot::default()).collect(),
            epoch,
        }
    }

    /// The bucket `value` falls in: the first bound `>=` it, else `+Inf`
    /// (NaN too).
    #[inline]
    fn bucket_of(&self, value: f64) -> usize {
        let upper = &self.bounds.upper;
        // Linear: duration buckets are ~14 bounds and most samples fall in
        // the first few, where this beats a binary search.
        upper
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(upper.len())
    }

    #[inline]
    fn observe(&self, value: f64, count: u64) {
        let bucket = self.bucket_of(value);
        self.buckets[bucket].fetch_add(count, Ordering::Relaxed);
        add_f64(&self.sum, value * count as f64);
        let slot = &self.exemplars[bucket];
        if let Some(trace_id) = exemplar::wanted(slot, &self.epoch) {
            slot.store(trace_id, value, &self.epoch);
        }
    }

    /// Reads the buckets into `cumulative` (cleared first) and returns the
    /// snapshot the encoder writes.
    pub(crate) fn snapshot<'a>(&'a self, cumulative: &'a mut Vec<u64>) -> HistogramSnapshot<'a> {
        cumulative.clear();
        let mut running = 0u64;
        for bucket in self.buckets.iter() {
            running = running.wrapping_add(bucket.load(Ordering::Relaxed));
            cumulative.push(running);
        }
        HistogramSnapshot {
            cumulative,
            sum: f64::from_bits(self.sum.load(Ordering::Relaxed)),
        }
    }

    /// The latest exemplar of bucket `index`, if one was taken.
    pub(crate) fn exemplar(&self, index: usize) -> Option<Exemplar> {
        self.exemplars.get(index)?.load()
    }
}

impl HistogramFn for HistogramCell {
    #[inline]
    fn record(&self, value: f64) {
        self.observe(value, 1);
    }

    fn record_many(&self, value: f64, count: usize) {
        self.observe(value, count as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_on_a_bound_counts_in_that_bucket_and_nan_in_inf() {
        let cell = HistogramCell::new(Bounds::new(&[0.1, 1.0]), Arc::default());
        for value in [0.1, 0.5, 1.0, 2.0, f64::NAN, -1.0] {
            cell.record(value);
        }
        let mut cumulative = Vec::new();
        let snapshot = cell.snapshot(&mut cumulative);
        assert_eq!(snapshot.cumulative, [2, 4, 6]);
        assert!(snapshot.sum.is_nan());
    }

    #[test]
    fn record_many_counts_each_and_sums_value_times_count() {
        let cell = HistogramCell::new(Bounds::new(&[1.0]), Arc::default());
        cell.record_many(0.5, 4);
        let mut cumulative = Vec::new();
        let snapshot = cell.snapshot(&mut cumulative);
        assert_eq!(snapshot.cumulative, [4, 4]);
        assert_eq!(snapshot.sum, 2.0);
    }

    #[test]
    fn gauges_add_and_set_and_counters_take_absolute_maxima() {
        let gauge = GaugeCell::default();
        gauge.increment(2.5);
        gauge.decrement(1.0);
        assert_eq!(gauge.get(), 1.5);
        gauge.set(-3.0);
        assert_eq!(gauge.get(), -3.0);
        let counter = CounterCell::default();
        counter.increment(5);
        counter.absolute(3);
        assert_eq!(counter.get(), 5);
        counter.absolute(9);
        assert_eq!(counter.get(), 9);
    }
}
