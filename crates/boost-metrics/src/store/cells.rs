//! The values behind each series: plain atomics, updated where the
//! observation happens, read where the scrape is written.
//!
//! A kept `metrics` handle wraps an `Arc` of one of these, so an update is a
//! virtual call and one or two atomic operations — nothing is queued, and no
//! upkeep is needed for a scrape to see every observation.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

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

/// Stripes per histogram: each thread counts into one of these (picked once
/// per thread, round robin), so threads observing the same series at once do
/// not bounce one cache line between cores; the scrape adds them up. Four
/// stripes take contention on a hot series down fourfold for 4x the counters
/// (a 14-bound histogram: 512 bytes instead of 128).
const STRIPES: usize = 4;

/// Eight counters: one cache line, so two stripes never share one.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Line([AtomicU64; 8]);

/// The stripe this thread counts into.
#[inline]
fn stripe() -> usize {
    // Const-initialised and without a destructor, so reading it is a plain
    // thread-local load (no lazy-initialisation state to check).
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|stripe| match stripe.get() {
        usize::MAX => {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let picked = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
            stripe.set(picked);
            picked
        }
        picked => picked,
    })
}

/// Fixed buckets counted at observation: per stripe, one counter per bucket
/// (the last is `+Inf`) and the sum. `_count` is the sum of the buckets, so
/// it always equals the `+Inf` bucket, and one observation is two atomic
/// operations on lines no other thread is likely writing.
#[derive(Debug)]
pub(crate) struct HistogramCell {
    pub(crate) bounds: Arc<Bounds>,
    /// `STRIPES` runs of `stride` lines: bucket counters, then the sum's bits.
    lines: Box<[Line]>,
    /// Lines per stripe: room for every bucket and the sum.
    stride: usize,
    /// The latest exemplar per bucket (one per bucket, not per stripe).
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
        let buckets = bounds.upper.len() + 1;
        // Buckets plus the sum, rounded up to whole lines.
        let stride = (buckets + 1).div_ceil(8);
        let lines = (0..STRIPES * stride).map(|_| Line::default()).collect();
        let sum_bits = 0f64.to_bits();
        let cell = Self {
            bounds,
            lines,
            stride,
            exemplars: (0..buckets).map(|_| ExemplarSlot::default()).collect(),
            epoch,
        };
        for stripe in 0..STRIPES {
            if let Some(sum) = cell.slot(stripe, buckets) {
                sum.store(sum_bits, Ordering::Relaxed);
            }
        }
        cell
    }

    /// Counter `index` of `stripe` (bucket counters, then the sum).
    #[inline]
    fn slot(&self, stripe: usize, index: usize) -> Option<&AtomicU64> {
        self.lines
            .get(stripe * self.stride + index / 8)
            .map(|line| &line.0[index % 8])
    }

    fn buckets(&self) -> usize {
        self.exemplars.len()
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
        let stripe = stripe();
        if let Some(counter) = self.slot(stripe, bucket) {
            counter.fetch_add(count, Ordering::Relaxed);
        }
        if let Some(sum) = self.slot(stripe, self.buckets()) {
            add_f64(sum, value * count as f64);
        }
        if let Some(slot) = self.exemplars.get(bucket)
            && let Some(trace_id) = exemplar::wanted(slot, &self.epoch)
        {
            slot.store(trace_id, value, &self.epoch);
        }
    }

    /// Reads the buckets of every stripe into `cumulative` (cleared first)
    /// and returns the snapshot the encoder writes.
    pub(crate) fn snapshot<'a>(&'a self, cumulative: &'a mut Vec<u64>) -> HistogramSnapshot<'a> {
        cumulative.clear();
        let (buckets, mut running, mut sum) = (self.buckets(), 0u64, 0f64);
        for bucket in 0..buckets {
            for stripe in 0..STRIPES {
                let count = self
                    .slot(stripe, bucket)
                    .map_or(0, |c| c.load(Ordering::Relaxed));
                running = running.wrapping_add(count);
            }
            cumulative.push(running);
        }
        for stripe in 0..STRIPES {
            if let Some(bits) = self.slot(stripe, buckets) {
                sum += f64::from_bits(bits.load(Ordering::Relaxed));
            }
        }
        HistogramSnapshot { cumulative, sum }
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
    fn observations_from_many_threads_are_all_counted() {
        let cell = Arc::new(HistogramCell::new(Bounds::new(&[1.0]), Arc::default()));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let cell = Arc::clone(&cell);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        cell.record(0.5);
                        cell.record(2.0);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let mut cumulative = Vec::new();
        let snapshot = cell.snapshot(&mut cumulative);
        assert_eq!(snapshot.cumulative, [8000, 16000]);
        assert_eq!(snapshot.sum, 8000.0 * 2.5);
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
