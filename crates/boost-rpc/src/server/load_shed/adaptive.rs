//! The adaptive limit's measurements: calls' latencies gathered into
//! windows, each window one sample for [`Gradient2`].
//!
//! Lock-free on every call: a call's latency is added to one atomic word
//! (`sum of microseconds << 20 | count`), and the most calls in flight at an
//! admission is kept in another (written only when it grows). The call that
//! finds the window over (`window` passed, at least `window_samples` calls)
//! takes the algorithm's lock with `try_lock` — nobody ever waits for it —
//! swaps the window's counts out and computes the new limit: one update
//! per window, off every other call's path. Counts are statistics: a
//! latency added while the window is swapped out lands in the next one.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::gradient::{Gradient2, Params};
use super::settings::AdaptiveLimitSettings;

/// Bits of a window's word that count its calls (a million per window).
const COUNT_BITS: u32 = 20;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
/// A call's latency counts as at most this (a minute, in µs), so a window's
/// sum cannot overflow its 44 bits before a window's million calls do.
const MAX_SAMPLE_MICROS: u64 = 60_000_000;

/// The measurements and the algorithm of one server's adaptive limit.
#[derive(Debug)]
pub(super) struct Adaptive {
    origin: Instant,
    window_nanos: u64,
    window_samples: u64,
    /// The open window's calls: `sum of µs << COUNT_BITS | count`.
    samples: AtomicU64,
    /// When the open window started, in nanoseconds since `origin`.
    window_start: AtomicU64,
    /// The most calls in flight seen at an admission in the open window.
    peak: AtomicUsize,
    gradient: Mutex<Gradient2>,
}

/// What [`Adaptive`] holds now ([`LoadShedLayer::state`](super::LoadShedLayer::state)).
#[derive(Debug, Clone, Copy)]
pub(super) struct Rtts {
    /// The long-term (no-load) latency.
    pub(super) long: Duration,
}

impl Adaptive {
    /// The adaptive limit `settings` describe, under `ceiling`.
    pub(super) fn new(settings: &AdaptiveLimitSettings, ceiling: usize) -> Self {
        let window = settings.window.max(Duration::from_millis(1));
        Self {
            origin: Instant::now(),
            window_nanos: u64::try_from(window.as_nanos()).unwrap_or(u64::MAX),
            window_samples: u64::from(settings.window_samples.max(1)),
            samples: AtomicU64::new(0),
            window_start: AtomicU64::new(0),
            peak: AtomicUsize::new(0),
            gradient: Mutex::new(Gradient2::new(Params {
                initial: settings.initial_limit,
                min: settings.min_limit,
                max: ceiling,
                smoothing: settings.smoothing,
                tolerance: settings.tolerance,
                long_windows: settings.long_window.as_secs_f64() / window.as_secs_f64(),
            })),
        }
    }

    /// The limit to start with.
    pub(super) fn initial_limit(&self) -> usize {
        self.gradient.lock().map(|g| g.limit()).unwrap_or(1)
    }

    /// The long-term latency now.
    pub(super) fn rtts(&self) -> Rtts {
        let micros = self.gradient.lock().map(|g| g.long_rtt()).unwrap_or(0.0);
        Rtts {
            long: Duration::try_from_secs_f64(micros / 1e6).unwrap_or_default(),
        }
    }

    /// Notes a call admitted with `in_flight` calls in flight (itself
    /// included).
    #[inline]
    pub(super) fn admitted(&self, in_flight: usize) {
        if in_flight > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(in_flight, Ordering::Relaxed);
        }
    }

    /// Records a call admitted at `started` that answered at `now`, with
    /// `in_flight` calls in flight; when this call closed a window, stores
    /// the new limit in `limit` and returns it.
    #[inline]
    pub(super) fn record(
        &self,
        started: Instant,
        now: Instant,
        in_flight: usize,
        limit: &AtomicUsize,
    ) -> Option<usize> {
        let micros = u64::try_from(now.saturating_duration_since(started).as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, MAX_SAMPLE_MICROS);
        let before = self
            .samples
            .fetch_add((micros << COUNT_BITS) | 1, Ordering::Relaxed);
        if (before & COUNT_MASK) + 1 < self.window_samples {
            return None;
        }
        let at = self.nanos(now);
        if at < self.window_start.load(Ordering::Relaxed) + self.window_nanos {
            return None;
        }
        self.close_window(at, in_flight, limit)
    }

    #[cold]
    fn close_window(&self, at: u64, in_flight: usize, limit: &AtomicUsize) -> Option<usize> {
        // Whoever holds the lock is closing this window already.
        let mut gradient = self.gradient.try_lock().ok()?;
        if at < self.window_start.load(Ordering::Relaxed) + self.window_nanos {
            return None; // closed while this call took the lock
        }
        self.window_start.store(at, Ordering::Relaxed);
        let window = self.samples.swap(0, Ordering::Relaxed);
        let peak = self.peak.swap(in_flight, Ordering::Relaxed);
        let count = window & COUNT_MASK;
        if count == 0 {
            return None;
        }
        let mean = (window >> COUNT_BITS) as f64 / count as f64;
        let next = gradient.update(mean, peak.max(in_flight));
        // Under the lock: windows' limits are stored in their order.
        limit.store(next, Ordering::Relaxed);
        Some(next)
    }

    fn nanos(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adaptive() -> Adaptive {
        Adaptive::new(
            &AdaptiveLimitSettings {
                enabled: true,
                initial_limit: 20,
                ..AdaptiveLimitSettings::default()
            },
            1000,
        )
    }

    /// Runs `windows` windows of `calls` calls of `latency`, all in flight
    /// together; returns the last limit.
    fn run(a: &Adaptive, start: Instant, windows: u32, calls: usize, latency: Duration) -> usize {
        let stored = AtomicUsize::new(0);
        let mut limit = a.initial_limit();
        for w in 0..windows {
            let end = start + Duration::from_millis(100) * (w + 1) + latency;
            for _ in 0..calls {
                a.admitted(calls);
            }
            for _ in 0..calls {
                if let Some(l) = a.record(end - latency, end, calls, &stored) {
                    limit = l;
                    assert_eq!(stored.load(Ordering::Relaxed), l);
                }
            }
        }
        limit
    }

    #[test]
    fn a_window_closes_once_after_its_time_and_samples() {
        let a = adaptive();
        let limit = AtomicUsize::new(0);
        let start = a.origin;
        let early = start + Duration::from_millis(50);
        for _ in 0..100 {
            assert_eq!(
                a.record(start, early, 20, &limit),
                None,
                "window not over yet"
            );
        }
        let late = start + Duration::from_millis(150);
        let closed = (0..100)
            .filter(|_| a.record(start, late, 20, &limit).is_some())
            .count();
        assert_eq!(closed, 1);
    }

    #[test]
    fn a_window_needs_its_samples() {
        let a = adaptive();
        let limit = AtomicUsize::new(0);
        let late = a.origin + Duration::from_secs(5);
        for _ in 0..9 {
            assert_eq!(a.record(a.origin, late, 20, &limit), None);
        }
        assert!(
            a.record(a.origin, late, 20, &limit).is_some(),
            "the 10th call"
        );
    }

    #[test]
    fn steady_latency_with_a_full_server_raises_the_limit() {
        let a = adaptive();
        let limit = run(&a, a.origin, 100, 40, Duration::from_millis(20));
        assert!(limit > 40, "{limit}");
        let long = a.rtts().long;
        assert!(
            (Duration::from_millis(19)..=Duration::from_millis(21)).contains(&long),
            "{long:?}"
        );
    }

    #[test]
    fn a_latency_jump_lowers_the_limit() {
        let a = adaptive();
        let high = run(&a, a.origin, 100, 60, Duration::from_millis(20));
        let later = a.origin + Duration::from_secs(20);
        // As many callers as the limit allows: the server is busy.
        let low = run(&a, later, 30, high, Duration::from_millis(80));
        assert!(low < high / 2, "{high} -> {low}");
    }
}
