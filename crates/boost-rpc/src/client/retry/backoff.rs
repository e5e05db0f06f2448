//! Retry backoff (gRFC A6): before retry `n` (n = 1 for the first retry) wait
//! `random(0, min(initial · multiplier^(n−1), max))` — "full jitter", which
//! spreads retries of many clients evenly instead of in waves — unless the
//! server said otherwise with `grpc-retry-pushback-ms`.

use std::time::Duration;

use http::HeaderMap;
use rand::Rng;

use crate::client::settings::RetrySettings;

/// The response header a server uses to ask for a specific backoff.
pub(crate) const GRPC_RETRY_PUSHBACK_MS: &str = "grpc-retry-pushback-ms";

/// Exponential backoff with full jitter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryBackoff {
    initial: Duration,
    max: Duration,
    multiplier: f64,
}

/// What the server said about retrying, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushback {
    /// No pushback header: use the backoff.
    None,
    /// Retry after exactly this long.
    After(Duration),
    /// Negative or malformed: do not retry.
    Stop,
}

impl Pushback {
    /// Reads `grpc-retry-pushback-ms` from response headers or trailers.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        match headers.get(GRPC_RETRY_PUSHBACK_MS) {
            None => Self::None,
            Some(v) => match v.to_str().ok().and_then(|s| s.trim().parse::<i64>().ok()) {
                Some(ms) if ms >= 0 => Self::After(Duration::from_millis(ms.unsigned_abs())),
                _ => Self::Stop,
            },
        }
    }
}

impl RetryBackoff {
    /// Backoff bounded by `initial · multiplier^(n−1)`, capped at `max`.
    pub(crate) const fn new(initial: Duration, max: Duration, multiplier: f64) -> Self {
        Self {
            initial,
            max,
            multiplier,
        }
    }

    /// The backoff described by `settings`.
    pub(crate) fn from_settings(settings: &RetrySettings) -> Self {
        Self::new(
            settings.initial_backoff,
            settings.max_backoff,
            settings.multiplier,
        )
    }

    /// The upper bound of the wait before retry `n` (1-based).
    pub(crate) fn bound(&self, retry: u32) -> Duration {
        let exp = self
            .multiplier
            .max(1.0)
            .powi(retry.saturating_sub(1).min(64) as i32);
        let secs = (self.initial.as_secs_f64() * exp).min(self.max.as_secs_f64());
        // `max` itself when the float cannot be a duration (a huge `max_backoff`).
        Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(self.max)
    }

    /// A random wait before retry `n` (1-based), in `[0, bound(n)]`.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let bound = self.bound(retry);
        if bound.is_zero() {
            return bound;
        }
        rand::rng().random_range(Duration::ZERO..=bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_grows_then_caps() {
        let b = RetryBackoff::new(Duration::from_millis(10), Duration::from_millis(35), 2.0);
        assert_eq!(b.bound(1), Duration::from_millis(10));
        assert_eq!(b.bound(2), Duration::from_millis(20));
        assert_eq!(b.bound(3), Duration::from_millis(35));
        assert!(b.delay(3) <= Duration::from_millis(35));
    }

    #[test]
    fn huge_configured_backoffs_saturate_instead_of_panicking() {
        let b = RetryBackoff::new(Duration::MAX, Duration::MAX, 1e300);
        assert!(b.bound(60) > Duration::from_secs(1_000_000));
        let _ = b.delay(60);
    }

    #[test]
    fn negative_or_garbage_pushback_stops_retries() {
        let mut h = HeaderMap::new();
        assert_eq!(Pushback::from_headers(&h), Pushback::None);
        h.insert(GRPC_RETRY_PUSHBACK_MS, "25".parse().unwrap());
        assert_eq!(
            Pushback::from_headers(&h),
            Pushback::After(Duration::from_millis(25))
        );
        h.insert(GRPC_RETRY_PUSHBACK_MS, "-1".parse().unwrap());
        assert_eq!(Pushback::from_headers(&h), Pushback::Stop);
        h.insert(GRPC_RETRY_PUSHBACK_MS, "soon".parse().unwrap());
        assert_eq!(Pushback::from_headers(&h), Pushback::Stop);
    }
}
