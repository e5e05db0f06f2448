//! The sliding window of one client's throttle: requests sent and requests
//! the upstream accepted over the last `window`, and the rejection
//! probability the SRE book derives from them.
//!
//! Lock-free: a bucket per tenth of the window, each one atomic word of
//! `requests << 32 | accepts` and the epoch (bucket number since the
//! window's origin) it counts. The probability is cached with the epoch it
//! was computed in, so a healthy client's call reads one word and skips the
//! random draw. Counts are statistics: an increment racing a bucket's reset
//! at an epoch boundary may be lost, which moves the probability by one
//! call in hundreds.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Buckets per window.
const BUCKETS: usize = 10;
/// The probability's fixed-point scale (`u32::MAX` would be 1.0).
const SCALE: f64 = 1_000_000.0;

#[derive(Debug, Default)]
struct Bucket {
    epoch: AtomicU64,
    counts: AtomicU64,
}

/// Requests and accepts over a sliding window. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Window {
    origin: Instant,
    bucket_nanos: u64,
    buckets: [Bucket; BUCKETS],
    /// `K`: accepts weigh this many requests.
    k: f64,
    /// Below this many requests in the window, nothing is rejected.
    min_requests: u64,
    /// The probability × [`SCALE`], and the epoch it was computed in.
    probability: AtomicU32,
    probability_epoch: AtomicU64,
}

/// What one window holds now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Totals {
    pub(crate) requests: u64,
    pub(crate) accepts: u64,
}

impl Window {
    pub(crate) fn new(window: Duration, k: f64, min_requests: u32) -> Self {
        let bucket_nanos = (window.as_nanos() / BUCKETS as u128).clamp(1, u64::MAX as u128) as u64;
        Self {
            origin: Instant::now(),
            bucket_nanos,
            buckets: Default::default(),
            k,
            min_requests: u64::from(min_requests),
            probability: AtomicU32::new(0),
            probability_epoch: AtomicU64::new(0),
        }
    }

    fn epoch(&self, now: Instant) -> u64 {
        let nanos = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(nanos / u128::from(self.bucket_nanos)).unwrap_or(u64::MAX)
    }

    /// Counts one request the upstream answered: `accepted` unless the
    /// answer said it could not take it.
    pub(crate) fn record(&self, now: Instant, accepted: bool) {
        let epoch = self.epoch(now);
        let bucket = &self.buckets[(epoch % BUCKETS as u64) as usize];
        if bucket.epoch.load(Ordering::Acquire) != epoch
            && bucket.epoch.swap(epoch, Ordering::AcqRel) != epoch
        {
            bucket.counts.store(0, Ordering::Release);
        }
        bucket
            .counts
            .fetch_add((1 << 32) | u64::from(accepted), Ordering::Relaxed);
        // A healthy window stays at 0 without recomputing; a failure, or any
        // answer while throttling, moves the probability.
        if !accepted || self.probability.load(Ordering::Relaxed) != 0 {
            self.recompute(epoch);
        }
    }

    /// The probability to reject the next request locally, from 0 to < 1.
    pub(crate) fn probability(&self, now: Instant) -> f64 {
        let cached = self.probability.load(Ordering::Relaxed);
        if cached == 0 {
            return 0.0;
        }
        let epoch = self.epoch(now);
        if self.probability_epoch.load(Ordering::Relaxed) != epoch {
            // Old failures leave the window with time, answers or not.
            return self.recompute(epoch);
        }
        f64::from(cached) / SCALE
    }

    /// Requests and accepts in the window ending in `epoch`.
    fn totals_at(&self, epoch: u64) -> Totals {
        let mut totals = Totals {
            requests: 0,
            accepts: 0,
        };
        for bucket in &self.buckets {
            let at = bucket.epoch.load(Ordering::Acquire);
            if at + (BUCKETS as u64) > epoch && at <= epoch {
                let counts = bucket.counts.load(Ordering::Relaxed);
                totals.requests += counts >> 32;
                totals.accepts += counts & u64::from(u32::MAX);
            }
        }
        totals
    }

    /// The window's totals now.
    pub(crate) fn totals(&self, now: Instant) -> Totals {
        self.totals_at(self.epoch(now))
    }

    fn recompute(&self, epoch: u64) -> f64 {
        let p = self.probability_of(self.totals_at(epoch));
        self.probability
            .store((p * SCALE) as u32, Ordering::Relaxed);
        self.probability_epoch.store(epoch, Ordering::Relaxed);
        p
    }

    /// The SRE book's `max(0, (requests − K·accepts) / (requests + 1))`,
    /// 0 below `min_requests`.
    pub(crate) fn probability_of(&self, totals: Totals) -> f64 {
        if totals.requests < self.min_requests {
            return 0.0;
        }
        let requests = totals.requests as f64;
        ((requests - self.k * totals.accepts as f64) / (requests + 1.0)).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Window {
        Window::new(Duration::from_secs(10), 2.0, 10)
    }

    #[test]
    fn healthy_answers_never_throttle() {
        let w = window();
        let now = Instant::now();
        for _ in 0..1000 {
            w.record(now, true);
        }
        assert_eq!(w.probability(now), 0.0);
        assert_eq!(
            w.totals(now),
            Totals {
                requests: 1000,
                accepts: 1000
            }
        );
    }

    #[test]
    fn the_probability_is_the_sre_formula() {
        let w = window();
        let now = Instant::now();
        // 100 requests, 20 accepted: (100 − 2·20) / 101.
        for i in 0..100 {
            w.record(now, i % 5 == 0);
        }
        let p = w.probability(now);
        assert!((p - 60.0 / 101.0).abs() < 1e-4, "{p}");
    }

    #[test]
    fn few_requests_are_never_throttled() {
        let w = window();
        let now = Instant::now();
        for _ in 0..9 {
            w.record(now, false);
        }
        assert_eq!(w.probability(now), 0.0, "9 failures are below min_requests");
        w.record(now, false);
        assert!(w.probability(now) > 0.9);
    }

    #[test]
    fn failures_leave_the_window_with_time() {
        let w = window();
        let start = Instant::now();
        for _ in 0..100 {
            w.record(start, false);
        }
        assert!(w.probability(start) > 0.9);
        // Half a window later they still count; a full window later not.
        assert!(w.probability(start + Duration::from_secs(5)) > 0.9);
        assert_eq!(w.probability(start + Duration::from_secs(11)), 0.0);
        assert_eq!(w.totals(start + Duration::from_secs(11)).requests, 0);
    }

    #[test]
    fn accepts_bring_it_back_to_zero() {
        let w = window();
        let start = Instant::now();
        for _ in 0..100 {
            w.record(start, false);
        }
        let later = start + Duration::from_secs(2);
        for _ in 0..100 {
            w.record(later, true);
        }
        // 200 requests, 100 accepts: 200 − 2·100 = 0.
        assert_eq!(w.probability(later), 0.0);
    }
}
