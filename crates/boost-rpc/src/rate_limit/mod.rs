//! Rate limits per caller key, by the GCRA (the `governor` crate), for the
//! gRPC server ([`server::rate_limit`](crate::server::rate_limit),
//! `[grpc.server.rate_limit]`) and boost-http's routes (`[http.rate_limit]`).
//!
//! Each request's key is the caller's verified certificate identity
//! ([`RateLimitKey::Peer`], mTLS) or a header's value
//! ([`RateLimitKey::Header`]: an API key, a tenant). A key may make
//! `per_second` requests a second and `burst` at once; one over its rate is
//! refused at once — gRPC `RESOURCE_EXHAUSTED` with `grpc-retry-pushback-ms`,
//! HTTP `429` with `Retry-After` — saying when it would conform again.
//!
//! Three kinds of bucket, each with the same quota (the `bucket` label of
//! `server_rate_limited_total`):
//! - `key`: a caller's own;
//! - `default`: shared by every request **without a key** — no verified
//!   certificate, no header, an empty value, or one longer than
//!   `max_key_length` (not a way around the limit: all such requests share
//!   one bucket);
//! - `overflow`: shared by **new keys while `max_keys` are tracked**.
//!
//! The key set is bounded: at most `max_keys` keys (plus the few being
//! inserted by concurrent requests) have a state. (While the set is far
//! below `max_keys`, a key goes straight to its bucket — one map lookup —
//! and the set is counted every 64 checks on a thread; near the cap every
//! new key is checked against it.) Every `cleanup_interval`
//! (10 s) a background task forgets keys idle long enough to have a full
//! bucket again (governor's `retain_recent`, then `shrink_to_fit`), which
//! changes no decision. When a new key finds the set full, the same clean-up
//! runs at once (at most once a second); if the set is still full, the key
//! shares `overflow` until room is made. So a flood of distinct keys costs
//! at most `max_keys` states (a map entry, the key and 8 bytes of GCRA state each) and cannot starve
//! existing keys. `server_rate_limit_keys` is the number tracked.
//!
//! ```
//! use boost_rpc::rate_limit::{RateLimitSettings, RateLimits};
//!
//! let limits = RateLimits::new("grpc", &RateLimitSettings::default().by_header("x-tenant").with_rate(1, 2));
//! assert!(limits.check(Some("acme")).is_ok());
//! assert!(limits.check(Some("acme")).is_ok(), "a burst of two");
//! let refused = limits.check(Some("acme")).unwrap_err();
//! assert!(refused.retry_after.as_millis() > 0);
//! assert!(limits.check(Some("globex")).is_ok(), "another key is unaffected");
//! ```

mod settings;
mod store;

use std::cell::Cell;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use boost_metrics::conventions::{SERVER_RATE_LIMIT_KEYS, SERVER_RATE_LIMITED_TOTAL};
use boost_tls::PeerIdentity;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use metrics::{Counter, Gauge};

pub use self::settings::{RateLimitKey, RateLimitSettings};
use self::store::KeyStore;

/// Checks a thread makes between two counts of the key set (a count visits
/// every shard of the map) while the set is far from full.
const RECOUNT_EVERY: u32 = 64;

/// "Far from full": at least this many keys below `max_keys` at the last
/// count. More than 64 threads would have to add [`RECOUNT_EVERY`] new keys
/// each between two counts to pass the cap.
const FAR_FROM_FULL: usize = 4096;

thread_local! {
    /// Checks made on this thread, for [`RECOUNT_EVERY`].
    static CHECKS: Cell<u32> = const { Cell::new(0) };
}

/// Forced clean-ups (a new key finding the set full) happen at most this often.
const FORCED_CLEANUP_EVERY: Duration = Duration::from_secs(1);

/// Which bucket decided a request (the `bucket` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Bucket {
    /// The key's own.
    Key,
    /// Requests without a key.
    Default,
    /// New keys while the key set is full.
    Overflow,
}

impl Bucket {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Default => "default",
            Self::Overflow => "overflow",
        }
    }
}

/// A request over its rate ([`RateLimits::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refused {
    /// When a request of the same key would conform again (at least 1 ms).
    pub retry_after: Duration,
    /// The bucket that refused it.
    pub bucket: Bucket,
}

type Keyed =
    RateLimiter<String, KeyStore, DefaultClock, NoOpMiddleware<<DefaultClock as Clock>::Instant>>;

/// The per-key limiter of one server. Cheap to clone; clones share the
/// buckets. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct RateLimits {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    keyed: Keyed,
    store: KeyStore,
    default: DefaultDirectRateLimiter,
    overflow: DefaultDirectRateLimiter,
    header: Option<http::HeaderName>,
    max_keys: usize,
    max_key_length: usize,
    per_second: u32,
    origin: Instant,
    /// Nanos since `origin` before which no forced clean-up runs.
    next_forced_cleanup: AtomicU64,
    /// Keys tracked at the last count (see [`RECOUNT_EVERY`]).
    counted: AtomicUsize,
    refused: [Counter; 3],
    keys: Gauge,
}

impl RateLimits {
    /// The limiter of the server named `server` (`grpc`, `http`: the
    /// `server` label) by `settings` (validated values; others are clamped
    /// into range). With a tokio runtime, starts the clean-up task, which
    /// ends with the last clone.
    pub fn new(server: &'static str, settings: &RateLimitSettings) -> Self {
        let rate = NonZeroU32::new(settings.per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(rate).allow_burst(burst);
        let store = KeyStore::default();
        let refused = [Bucket::Key, Bucket::Default, Bucket::Overflow].map(|bucket| {
            metrics::counter!(SERVER_RATE_LIMITED_TOTAL, "server" => server, "bucket" => bucket.as_str())
        });
        let inner = Arc::new(Inner {
            keyed: RateLimiter::new(quota, store.clone(), DefaultClock::default()),
            store,
            default: RateLimiter::direct(quota),
            overflow: RateLimiter::direct(quota),
            header: settings.header_name(),
            max_keys: settings.max_keys.max(1),
            max_key_length: settings.max_key_length.max(1),
            per_second: settings.per_second,
            origin: Instant::now(),
            next_forced_cleanup: AtomicU64::new(0),
            counted: AtomicUsize::new(0),
            refused,
            keys: metrics::gauge!(SERVER_RATE_LIMIT_KEYS, "server" => server),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            spawn_cleanup(Arc::downgrade(&inner), settings.cleanup_interval);
        }
        Self { inner }
    }

    /// The key of `request`: its peer identity or header value, as configured.
    pub fn key_of<'r, B>(&self, request: &'r http::Request<B>) -> Option<&'r str> {
        match &self.inner.header {
            Some(name) => request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok()),
            None => request
                .extensions()
                .get::<PeerIdentity>()
                .map(PeerIdentity::principal),
        }
    }

    /// Counts one request of `key` (`None`: no key); `Err` when it is over
    /// its rate, with when to retry.
    pub fn check(&self, key: Option<&str>) -> Result<(), Refused> {
        let inner = &*self.inner;
        let key = key.filter(|k| !k.is_empty() && k.len() <= inner.max_key_length);
        let (bucket, outcome) = match key {
            None => (Bucket::Default, inner.default.check()),
            Some(key) => {
                // Far below the cap (the usual case) a known key and a new
                // one alike go straight to their bucket: one map lookup.
                if inner.far_from_full()
                    || inner.store.contains(key)
                    || inner.store.len() < inner.max_keys
                    || {
                        self.forced_cleanup();
                        inner.recount() < inner.max_keys
                    }
                {
                    (Bucket::Key, inner.keyed.check_key(&key.to_owned()))
                } else {
                    (Bucket::Overflow, inner.overflow.check())
                }
            }
        };
        match outcome {
            Ok(()) => Ok(()),
            Err(not_until) => {
                inner.refused[bucket as usize].increment(1);
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(Refused {
                    retry_after: wait.max(Duration::from_millis(1)),
                    bucket,
                })
            }
        }
    }

    /// The configured sustained rate per key.
    pub fn per_second(&self) -> u32 {
        self.inner.per_second
    }

    /// Keys tracked now.
    pub fn keys(&self) -> usize {
        self.inner.store.len()
    }

    /// Forgets keys whose bucket is full again (no decision changes).
    pub fn cleanup(&self) {
        self.inner.cleanup();
    }

    /// [`cleanup`](Self::cleanup), at most once per [`FORCED_CLEANUP_EVERY`].
    fn forced_cleanup(&self) {
        let inner = &*self.inner;
        let now = u64::try_from(inner.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let due = inner.next_forced_cleanup.load(Ordering::Relaxed);
        let next = now.saturating_add(FORCED_CLEANUP_EVERY.as_nanos() as u64);
        if now >= due
            && inner
                .next_forced_cleanup
                .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            inner.cleanup();
        }
    }
}

impl Inner {
    fn cleanup(&self) {
        self.keyed.retain_recent();
        self.keyed.shrink_to_fit();
        self.keys.set(self.recount() as f64);
    }

    /// Whether the set was [`FAR_FROM_FULL`] at the last count; counted
    /// again every [`RECOUNT_EVERY`] checks on this thread.
    fn far_from_full(&self) -> bool {
        let due = CHECKS.with(|checks| {
            let n = checks.get().wrapping_add(1);
            checks.set(n);
            n % RECOUNT_EVERY == 0
        });
        let counted = if due {
            self.recount()
        } else {
            self.counted.load(Ordering::Relaxed)
        };
        counted.saturating_add(FAR_FROM_FULL) < self.max_keys
    }

    fn recount(&self) -> usize {
        let n = self.store.len();
        self.counted.store(n, Ordering::Relaxed);
        n
    }
}

/// Cleans `limits` every `interval` until it is dropped.
fn spawn_cleanup(limits: Weak<Inner>, interval: Duration) {
    let interval = interval.max(Duration::from_millis(100));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let Some(inner) = limits.upgrade() else {
                return;
            };
            inner.cleanup();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_second: u32, burst: u32, max_keys: usize) -> RateLimits {
        RateLimits::new(
            "test",
            &RateLimitSettings::default()
                .by_header("x-tenant")
                .with_rate(per_second, burst)
                .with_max_keys(max_keys),
        )
    }

    #[test]
    fn a_key_over_its_rate_is_refused_with_a_hint_and_others_are_not() {
        let limits = limits(1, 3, 100);
        for _ in 0..3 {
            assert!(limits.check(Some("a")).is_ok());
        }
        let refused = limits.check(Some("a")).unwrap_err();
        assert_eq!(refused.bucket, Bucket::Key);
        assert!(
            refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(1)
        );
        assert!(limits.check(Some("b")).is_ok());
    }

    #[test]
    fn missing_empty_and_overlong_keys_share_the_default_bucket() {
        let limits = limits(1, 2, 100);
        assert!(limits.check(None).is_ok());
        assert!(limits.check(Some("")).is_ok());
        let long = "x".repeat(129);
        assert_eq!(
            limits.check(Some(&long)).unwrap_err().bucket,
            Bucket::Default
        );
        assert_eq!(limits.keys(), 0, "no state per missing key");
        assert!(limits.check(Some("a")).is_ok(), "keys are unaffected");
    }

    #[test]
    fn the_key_set_stays_bounded_and_new_keys_overflow() {
        let limits = limits(1, 1, 10);
        for i in 0..1000 {
            let _ = limits.check(Some(&format!("k{i}")));
            assert!(limits.keys() <= 10, "{} keys after {i}", limits.keys());
        }
        // Keys past the cap shared one bucket: at most one of them got in.
        let refused = limits.check(Some("new")).unwrap_err();
        assert_eq!(refused.bucket, Bucket::Overflow);
        // A tracked key keeps its own bucket.
        assert_eq!(limits.check(Some("k0")).unwrap_err().bucket, Bucket::Key);
    }

    #[test]
    fn the_cap_holds_exactly_when_keys_arrive_on_the_fast_path() {
        // 5,000 keys: far from full at first (one lookup per check, the set
        // counted every RECOUNT_EVERY checks), then checked key by key.
        let limits = limits(1, 1, 5_000);
        for i in 0..20_000 {
            let _ = limits.check(Some(&format!("k{i}")));
        }
        assert_eq!(limits.keys(), 5_000);
        assert_eq!(
            limits.check(Some("one-more")).unwrap_err().bucket,
            Bucket::Overflow
        );
    }

    #[test]
    fn cleanup_forgets_idle_keys() {
        let limits = limits(1000, 1, 10);
        for i in 0..10 {
            assert!(limits.check(Some(&format!("k{i}"))).is_ok());
        }
        assert_eq!(limits.keys(), 10);
        // At 1000/s a burst-1 bucket is full again after 1 ms.
        std::thread::sleep(Duration::from_millis(20));
        limits.cleanup();
        assert_eq!(limits.keys(), 0);
        assert_eq!(limits.check(Some("fresh")), Ok(()));
    }
}
