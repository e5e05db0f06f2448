//! Gradient2, the limit algorithm of Netflix's concurrency-limits
//! (`Gradient2Limit`), fed one sample per window: the window's mean latency.
//!
//! It compares that short-term latency with a long-term exponential average
//! of it (the server's "no-load" latency):
//!
//! ```text
//! gradient = clamp(tolerance × long / short, 0.5, 1)
//! target   = limit × gradient + sqrt(limit)
//! limit    = clamp(limit × (1 − smoothing) + target × smoothing, min, max)
//! ```
//!
//! While calls take no longer than `tolerance` times the long-term latency,
//! the gradient is 1 and the limit grows by `smoothing × sqrt(limit)` per
//! window; once queueing shows, it shrinks in proportion, at most by half of
//! `smoothing` per window (one slow window is not a collapse). Two rules
//! from Netflix's implementation keep it honest: a window in which fewer than
//! half the limit's calls were in flight leaves the limit alone (an idle
//! server learns nothing about its capacity), and when the long-term latency
//! is more than twice the short one (an overload just ended) it decays 5% per
//! window instead of waiting for the average to forget.
//!
//! The queue allowance is `sqrt(limit)` (Netflix's Gradient and Envoy's
//! adaptive concurrency) rather than Gradient2's constant 4, so a limit in
//! the hundreds recovers in seconds, not minutes.
//!
//! Pure arithmetic: time and samples are passed in, so it is tested without
//! clocks.

/// The state of the algorithm. See the [module docs](self).
#[derive(Debug, Clone)]
pub(super) struct Gradient2 {
    limit: f64,
    min: f64,
    max: f64,
    smoothing: f64,
    tolerance: f64,
    long: LongRtt,
}

/// The parameters of [`Gradient2::new`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Params {
    pub(super) initial: usize,
    pub(super) min: usize,
    pub(super) max: usize,
    pub(super) smoothing: f64,
    pub(super) tolerance: f64,
    /// Windows the long-term average spans.
    pub(super) long_windows: f64,
}

/// Windows averaged plainly before the exponential average takes over
/// (Netflix's warm-up), so the first windows set the baseline.
const WARMUP_WINDOWS: u32 = 10;

/// The long-term latency: a plain mean of the first [`WARMUP_WINDOWS`], then
/// an exponential moving average over `windows` windows.
#[derive(Debug, Clone)]
struct LongRtt {
    value: f64,
    seen: u32,
    factor: f64,
}

impl LongRtt {
    fn add(&mut self, sample: f64) -> f64 {
        if self.seen < WARMUP_WINDOWS {
            self.seen += 1;
            self.value += (sample - self.value) / f64::from(self.seen);
        } else {
            self.value += (sample - self.value) * self.factor;
        }
        self.value
    }
}

impl Gradient2 {
    pub(super) fn new(params: Params) -> Self {
        let min = params.min.max(1) as f64;
        let max = (params.max as f64).max(min);
        Self {
            limit: (params.initial as f64).clamp(min, max),
            min,
            max,
            smoothing: params.smoothing,
            tolerance: params.tolerance,
            long: LongRtt {
                value: 0.0,
                seen: 0,
                factor: 2.0 / (params.long_windows.max(1.0) + 1.0),
            },
        }
    }

    /// The limit now.
    pub(super) fn limit(&self) -> usize {
        // `limit` is finite and within [min, max], both usize values.
        self.limit as usize
    }

    /// The long-term latency, in the samples' unit (0 before any window).
    pub(super) fn long_rtt(&self) -> f64 {
        self.long.value
    }

    /// Takes one window: its mean latency `short` (> 0) and the most calls
    /// in flight during it; returns the new limit.
    pub(super) fn update(&mut self, short: f64, peak_in_flight: usize) -> usize {
        if !(short.is_finite() && short > 0.0) {
            return self.limit();
        }
        let long = self.long.add(short);
        if long / short > 2.0 {
            // An overload ended: forget it faster than the average would.
            self.long.value *= 0.95;
        }
        if (peak_in_flight as f64) < self.limit / 2.0 {
            return self.limit();
        }
        let gradient = (self.tolerance * long / short).clamp(0.5, 1.0);
        let target = self.limit * gradient + self.limit.sqrt();
        let next = self.limit * (1.0 - self.smoothing) + target * self.smoothing;
        self.limit = next.clamp(self.min, self.max);
        self.limit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(initial: usize) -> Gradient2 {
        Gradient2::new(Params {
            initial,
            min: 10,
            max: 1000,
            smoothing: 0.2,
            tolerance: 1.5,
            // The defaults: 10 minutes of 100 ms windows.
            long_windows: 6000.0,
        })
    }

    #[test]
    fn grows_while_latency_stays_at_its_no_load_value() {
        let mut g = gradient(20);
        let mut limit = g.limit();
        for _ in 0..50 {
            let next = g.update(20.0, limit);
            assert!(next >= limit);
            limit = next;
        }
        assert!(limit > 60, "{limit}");
    }

    #[test]
    fn an_idle_server_keeps_its_limit() {
        let mut g = gradient(100);
        for _ in 0..50 {
            assert_eq!(g.update(20.0, 10), 100);
        }
    }

    #[test]
    fn queueing_brings_the_limit_down_to_what_the_server_takes() {
        // A server of capacity 32 with a 20 ms service time: beyond 32 in
        // flight, calls queue and take 20 ms × in flight / 32.
        let mut g = gradient(20);
        for _ in 0..20 {
            g.update(20.0, g.limit()); // learns the no-load latency
        }
        let latency = |limit: usize| 20.0 * (limit as f64 / 32.0).max(1.0);
        let mut limit = 200;
        g.limit = 200.0;
        for _ in 0..100 {
            limit = g.update(latency(limit), limit);
        }
        // It settles at tolerance × capacity plus its queue allowance.
        assert!((32..=70).contains(&limit), "{limit}");
    }

    #[test]
    fn one_slow_window_cuts_at_most_a_tenth() {
        let mut g = gradient(500);
        for _ in 0..20 {
            g.update(20.0, 1000);
        }
        let before = g.limit() as f64;
        let after = g.update(20_000.0, 1000) as f64;
        assert!(after >= before * 0.9, "{before} -> {after}");
    }

    #[test]
    fn the_limit_stays_within_its_bounds() {
        let mut g = gradient(20);
        for _ in 0..1000 {
            g.update(20.0, 1000);
        }
        assert_eq!(g.limit(), 1000);
        for _ in 0..200 {
            g.update(1e9, 1000);
        }
        assert_eq!(g.limit(), 10);
        assert_eq!(g.update(f64::NAN, 1000), 10);
        assert_eq!(g.update(0.0, 1000), 10);
    }

    #[test]
    fn the_long_term_latency_forgets_an_overload_quickly() {
        let mut g = gradient(20);
        for _ in 0..10 {
            g.update(200.0, 20); // warm-up under overload
        }
        for _ in 0..60 {
            g.update(20.0, 20);
        }
        // Down to about twice the short latency, where the decay stops.
        assert!(g.long_rtt() < 41.0, "{}", g.long_rtt());
    }
}
