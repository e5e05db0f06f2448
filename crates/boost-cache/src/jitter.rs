//! [`Jitter`]: spreads each entry's lifetime around the configured TTL.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Draws per-entry lifetimes uniformly from `ttl × (1 ± fraction)`.
///
/// A lock-free SplitMix64 sequence: each draw advances one atomic counter, so concurrent
/// inserts never wait on each other, and a fixed seed gives the same sequence of draws
/// (tests rely on it).
#[derive(Debug)]
pub(crate) struct Jitter {
    fraction: f64,
    state: AtomicU64,
}

/// SplitMix64's increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl Jitter {
    /// A jitter of `±fraction`, its draws seeded with `seed`.
    pub(crate) fn new(fraction: f64, seed: u64) -> Self {
        Self {
            fraction,
            state: AtomicU64::new(seed),
        }
    }

    /// `ttl` scaled by a fresh factor in `[1 - fraction, 1 + fraction)`.
    pub(crate) fn apply(&self, ttl: Duration) -> Duration {
        if self.fraction == 0.0 {
            return ttl;
        }
        let unit = self.next_unit();
        let factor = 1.0 - self.fraction + 2.0 * self.fraction * unit;
        // `ttl` itself when scaling would overflow (a TTL of centuries).
        Duration::try_from_secs_f64(ttl.as_secs_f64() * factor).unwrap_or(ttl)
    }

    /// A uniform draw in `[0, 1)`.
    fn next_unit(&self) -> f64 {
        let mut z = self
            .state
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The top 53 bits, as a fraction of 2^53: exact in an f64.
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ttl_of_centuries_is_kept_not_a_panic() {
        let jitter = Jitter::new(0.5, 7);
        let huge = Duration::from_secs(u64::MAX);
        for _ in 0..100 {
            assert!(jitter.apply(huge) >= huge / 2);
        }
    }

    #[test]
    fn draws_stay_within_the_band_and_cover_it() {
        let jitter = Jitter::new(0.1, 7);
        let ttl = Duration::from_secs(100);
        let draws: Vec<f64> = (0..10_000)
            .map(|_| jitter.apply(ttl).as_secs_f64())
            .collect();
        assert!(draws.iter().all(|d| (90.0..110.0).contains(d)));
        let min = draws.iter().copied().fold(f64::MAX, f64::min);
        let max = draws.iter().copied().fold(f64::MIN, f64::max);
        assert!(min < 90.5 && max > 109.5, "min {min} max {max}");
    }

    #[test]
    fn zero_fraction_keeps_the_ttl() {
        let jitter = Jitter::new(0.0, 1);
        assert_eq!(jitter.apply(Duration::from_secs(3)), Duration::from_secs(3));
    }

    #[test]
    fn same_seed_same_draws() {
        let a = Jitter::new(0.05, 42);
        let b = Jitter::new(0.05, 42);
        let ttl = Duration::from_secs(60);
        for _ in 0..100 {
            assert_eq!(a.apply(ttl), b.apply(ttl));
        }
    }
}
