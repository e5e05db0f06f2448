//! The values behind each series: plain atomics, updated where the
//! observation happens, read where the scrape is written.
//!
//! A kept `metrics` handle wraps an `Arc` of one of these, so an update is a
//! virtual call and one or two atomic operations (the kit's own handles skip
//! the virtual call, see `direct.rs`) — nothing is queued, and no upkeep is
//! needed for a scrape to see every observation.

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

/// Stripes a thread can own: the first threads to observe (up to this many
/// at once) each claim one for as long as they live, and update it with a
/// plain load and store — no atomic read-modify-write, since no other thread
/// writes it. A thread's claim is returned when it exits.
const OWNED: usize = 4;

/// Stripes shared by the threads that found no owned stripe free: updated
/// with atomic read-modify-writes, picked round robin.
const SHARED: usize = 2;

/// Stripes per histogram: each thread counts into one of these, so threads
/// observing the same series at once do not bounce one cache line between
/// cores; the scrape adds them up. A 14-bound histogram takes 6 x 128 bytes.
const STRIPES: usize = OWNED + SHARED;

/// Eight counters: one cache line, so two stripes never share one.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Line([AtomicU64; 8]);

/// Not yet picked: the thread has not observed a histogram yet.
const UNPICKED: usize = usize::MAX;

/// The owned stripes not claimed by a live thread, one bit each.
static FREE_OWNED: AtomicUsize = AtomicUsize::new((1 << OWNED) - 1);

thread_local! {
    // Const-initialised and without a destructor, so reading it is a plain
    // thread-local load (no lazy-initialisation state to check), and it stays
    // readable while other thread-locals are destroyed.
    static STRIPE: Cell<usize> = const { Cell::new(UNPICKED) };
    // Registered only by a thread that claimed an owned stripe: gives the
    // stripe back when the thread exits.
    static RELEASE: Release = const { Release };
}

/// Returns this thread's owned stripe when the thread exits.
struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        let _ = STRIPE.try_with(|stripe| {
            let owned = stripe.get();
            // Observations made after this (by other thread-locals'
            // destructors) go to a shared stripe; then the owned one is free.
            stripe.set(OWNED);
            if owned < OWNED {
                FREE_OWNED.fetch_or(1 << owned, Ordering::Release);
            }
        });
    }
}

/// The stripe this thread counts into: `< OWNED` when it owns it.
#[inline]
fn stripe() -> usize {
    STRIPE.with(|stripe| match stripe.get() {
        UNPICKED => pick(stripe),
        picked => picked,
    })
}

/// Claims a free owned stripe for this thread, else picks a shared one.
#[cold]
fn pick(stripe: &Cell<usize>) -> usize {
    // Register the release first: a thread that cannot run destructors
    // (already exiting) must not claim a stripe it would never give back.
    let picked = if RELEASE.try_with(|_| ()).is_ok() {
        claim_owned()
    } else {
        None
    };
    let picked = picked.unwrap_or_else(|| {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        OWNED + NEXT.fetch_add(1, Ordering::Relaxed) % SHARED
    });
    stripe.set(picked);
    picked
}

/// Takes the lowest free owned stripe, if any.
fn claim_owned() -> Option<usize> {
    let mut free = FREE_OWNED.load(Ordering::Relaxed);
    while free != 0 {
        let lowest = free.trailing_zeros() as usize;
        // Acquire: the previous owner's last updates happen before ours.
        match FREE_OWNED.compare_exchange_weak(
            free,
            free & !(1 << lowest),
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => return Some(lowest),
            Err(actual) => free = actual,
        }
    }
    None
}

/// Fixed buckets counted at observation: per stripe, the sum and one
/// counter per bucket (the last is `+Inf`). `_count` is the sum of the
/// buckets, so it always equals the `+Inf` bucket, and one observation
/// updates two counters on lines no other thread is likely writing (with
/// plain loads and stores on a stripe the thread owns).
#[derive(Debug)]
pub(crate) struct HistogramCell {
    pub(crate) bounds: Arc<Bounds>,
    /// Per stripe, whole lines: word 0 the sum's bits, word `1 + b` bucket
    /// `b`'s counter.
    stripes: [Box<[Line]>; STRIPES],
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

/// Word `index` of a stripe's lines.
#[inline]
fn word(lines: &[Line], index: usize) -> Option<&AtomicU64> {
    lines.get(index / 8).map(|line| &line.0[index % 8])
}

impl HistogramCell {
    pub(crate) fn new(bounds: Arc<Bounds>, epoch: Arc<Epoch>) -> Self {
        let buckets = bounds.upper.len() + 1;
        // The sum plus the buckets, rounded up to whole lines (0.0's bits
        // are 0, so a zeroed sum word is the sum 0.0).
        let lines = (1 + buckets).div_ceil(8);
        Self {
            bounds,
            stripes: std::array::from_fn(|_| (0..lines).map(|_| Line::default()).collect()),
            exemplars: (0..buckets).map(|_| ExemplarSlot::default()).collect(),
            epoch,
        }
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

    /// Counts `count` observations of `value`.
    #[inline]
    pub(crate) fn observe(&self, value: f64, count: u64) {
        let bucket = self.bucket_of(value);
        let stripe = stripe();
        if let Some(lines) = self.stripes.get(stripe)
            && let Some(first) = lines.first()
        {
            let (sum, counter) = (&first.0[0], word(lines, 1 + bucket));
            let added = value * count as f64;
            if stripe < OWNED {
                // Only this thread writes an owned stripe: a plain load and
                // store cannot lose another thread's update.
                if let Some(counter) = counter {
                    let counted = counter.load(Ordering::Relaxed);
                    counter.store(counted.wrapping_add(count), Ordering::Relaxed);
                }
                let next = f64::from_bits(sum.load(Ordering::Relaxed)) + added;
                sum.store(next.to_bits(), Ordering::Relaxed);
            } else {
                if let Some(counter) = counter {
                    counter.fetch_add(count, Ordering::Relaxed);
                }
                add_f64(sum, added);
            }
        }
        if exemplar::installed()
            && let Some(slot) = self.exemplars.get(bucket)
        {
            exemplar::offer(slot, &self.epoch, value);
        }
    }

    /// Reads the buckets of every stripe into `cumulative` (cleared first)
    /// and returns the snapshot the encoder writes.
    pub(crate) fn snapshot<'a>(&'a self, cumulative: &'a mut Vec<u64>) -> HistogramSnapshot<'a> {
        cumulative.clear();
        let (mut running, mut sum) = (0u64, 0f64);
        for bucket in 0..self.buckets() {
            for lines in &self.stripes {
                let count = word(lines, 1 + bucket).map_or(0, |c| c.load(Ordering::Relaxed));
                running = running.wrapping_add(count);
            }
            cumulative.push(running);
        }
        for lines in &self.stripes {
            if let Some(bits) = word(lines, 0) {
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
    fn owned_stripes_are_handed_on_when_threads_exit_and_nothing_is_lost() {
        let cell = Arc::new(HistogramCell::new(Bounds::new(&[1.0]), Arc::default()));
        // More waves of more threads than there are stripes: owned stripes
        // are claimed, given back on exit, claimed again by later threads.
        for _ in 0..5 {
            let threads: Vec<_> = (0..STRIPES + 2)
                .map(|_| {
                    let cell = Arc::clone(&cell);
                    std::thread::spawn(move || {
                        for _ in 0..500 {
                            cell.record(0.5);
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
        }
        let mut cumulative = Vec::new();
        let snapshot = cell.snapshot(&mut cumulative);
        let expected = 5 * (STRIPES as u64 + 2) * 500;
        assert_eq!(snapshot.cumulative, [expected, expected]);
        assert_eq!(snapshot.sum, expected as f64 * 0.5);
    }

    #[test]
    fn an_observation_from_a_thread_local_destructor_still_counts() {
        struct ObserveOnDrop(Arc<HistogramCell>);
        impl Drop for ObserveOnDrop {
            fn drop(&mut self) {
                self.0.record(0.5);
            }
        }
        thread_local! {
            static LATE: std::cell::RefCell<Option<ObserveOnDrop>> =
                const { std::cell::RefCell::new(None) };
        }
        let cell = Arc::new(HistogramCell::new(Bounds::new(&[1.0]), Arc::default()));
        for _ in 0..STRIPES + 2 {
            let cell = Arc::clone(&cell);
            std::thread::spawn(move || {
                cell.record(0.5);
                LATE.with(|late| *late.borrow_mut() = Some(ObserveOnDrop(cell)));
            })
            .join()
            .unwrap();
        }
        let mut cumulative = Vec::new();
        let expected = 2 * (STRIPES as u64 + 2);
        assert_eq!(
            cell.snapshot(&mut cumulative).cumulative,
            [expected, expected]
        );
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
