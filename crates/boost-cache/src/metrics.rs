//! [`CacheMetrics`]: the handles of one cache's metrics, registered once at build time.

use boost_metrics::conventions::{
    CACHE, CACHE_BYTES, CACHE_ENTRIES, CACHE_EVICTIONS_TOTAL, CACHE_LOAD_DURATION,
    CACHE_LOADS_TOTAL, CACHE_REJECTED_TOTAL, CACHE_REQUESTS_TOTAL, CAUSE, OUTCOME, REASON, RESULT,
    TIER,
};
use metrics::{Counter, Gauge, Histogram};
use moka::notification::RemovalCause;

/// Every metric a cache records, as handles taken from the recorder in scope when the cache
/// was built. Recording through a handle is an atomic add: no lookup, no allocation, no
/// label formatting on the hot path.
#[derive(Debug)]
pub(crate) struct CacheMetrics {
    /// `cache_requests_total{tier="l1",result="hit"}`
    pub(crate) hit: Counter,
    /// `cache_requests_total{tier="l1",result="miss"}`
    pub(crate) miss: Counter,
    /// `cache_requests_total{tier="l1",result="stale"}`
    pub(crate) stale: Counter,
    /// `cache_loads_total{outcome="ok"}`
    pub(crate) load_ok: Counter,
    /// `cache_loads_total{outcome="error"}`
    pub(crate) load_error: Counter,
    /// `cache_loads_total{outcome="absent"}`
    pub(crate) load_absent: Counter,
    /// `cache_load_duration_seconds`
    pub(crate) load_duration: Histogram,
    /// `cache_evictions_total{cause=...}`
    evicted_size: Counter,
    evicted_expired: Counter,
    evicted_explicit: Counter,
    evicted_replaced: Counter,
    /// `cache_rejected_total{reason="too_large"}`
    pub(crate) rejected_too_large: Counter,
    /// `cache_entries`
    entries: Gauge,
    /// `cache_bytes`
    bytes: Gauge,
}

impl CacheMetrics {
    /// Registers the cache's metrics, labelled `cache=name`, with the current recorder.
    pub(crate) fn register(name: &str) -> Self {
        let requests = |result: &'static str| metrics::counter!(CACHE_REQUESTS_TOTAL, CACHE => name.to_owned(), TIER => "l1", RESULT => result);
        let loads = |outcome: &'static str| metrics::counter!(CACHE_LOADS_TOTAL, CACHE => name.to_owned(), OUTCOME => outcome);
        let evictions = |cause: &'static str| metrics::counter!(CACHE_EVICTIONS_TOTAL, CACHE => name.to_owned(), CAUSE => cause);
        Self {
            hit: requests("hit"),
            miss: requests("miss"),
            stale: requests("stale"),
            load_ok: loads("ok"),
            load_error: loads("error"),
            load_absent: loads("absent"),
            load_duration: metrics::histogram!(CACHE_LOAD_DURATION, CACHE => name.to_owned()),
            evicted_size: evictions("size"),
            evicted_expired: evictions("expired"),
            evicted_explicit: evictions("explicit"),
            evicted_replaced: evictions("replaced"),
            rejected_too_large: metrics::counter!(CACHE_REJECTED_TOTAL, CACHE => name.to_owned(), REASON => "too_large"),
            entries: metrics::gauge!(CACHE_ENTRIES, CACHE => name.to_owned()),
            bytes: metrics::gauge!(CACHE_BYTES, CACHE => name.to_owned()),
        }
    }

    /// An entry of `bytes` was written (inserted or replaced: a replacement is also reported
    /// to [`removed`](Self::removed), so the gauges stay exact).
    pub(crate) fn written(&self, bytes: u32) {
        self.entries.increment(1.0);
        self.bytes.increment(f64::from(bytes));
    }

    /// moka removed an entry of `bytes` for `cause`.
    pub(crate) fn removed(&self, cause: RemovalCause, bytes: u32) {
        match cause {
            RemovalCause::Size => self.evicted_size.increment(1),
            RemovalCause::Expired => self.evicted_expired.increment(1),
            RemovalCause::Explicit => self.evicted_explicit.increment(1),
            RemovalCause::Replaced => self.evicted_replaced.increment(1),
        }
        self.entries.decrement(1.0);
        self.bytes.decrement(f64::from(bytes));
    }
}

/// The second tier's metrics, registered when a cache is built with one.
#[cfg(feature = "redis")]
#[derive(Debug)]
pub(crate) struct L2Metrics {
    /// `cache_requests_total{tier="l2",result="hit"}`
    pub(crate) hit: Counter,
    /// `cache_requests_total{tier="l2",result="miss"}`
    pub(crate) miss: Counter,
    /// `cache_l2_duration_seconds{op=...}`
    pub(crate) get: Histogram,
    pub(crate) set: Histogram,
    pub(crate) del: Histogram,
    pub(crate) lease: Histogram,
    pub(crate) wait: Histogram,
    pub(crate) scan: Histogram,
    /// `cache_l2_errors_total{reason=...}`
    pub(crate) timeout: Counter,
    pub(crate) error: Counter,
    pub(crate) circuit_open: Counter,
    pub(crate) decode: Counter,
    pub(crate) schema: Counter,
    pub(crate) too_large: Counter,
    pub(crate) key_too_long: Counter,
}

#[cfg(feature = "redis")]
impl L2Metrics {
    /// Registers the second tier's metrics, labelled `cache=name`, with the current recorder.
    pub(crate) fn register(name: &str) -> Self {
        use boost_metrics::conventions::{CACHE_L2_DURATION, CACHE_L2_ERRORS_TOTAL, OP};
        let requests = |result: &'static str| metrics::counter!(CACHE_REQUESTS_TOTAL, CACHE => name.to_owned(), TIER => "l2", RESULT => result);
        let duration = |op: &'static str| metrics::histogram!(CACHE_L2_DURATION, CACHE => name.to_owned(), OP => op);
        let errors = |reason: &'static str| metrics::counter!(CACHE_L2_ERRORS_TOTAL, CACHE => name.to_owned(), REASON => reason);
        Self {
            hit: requests("hit"),
            miss: requests("miss"),
            get: duration("get"),
            set: duration("set"),
            del: duration("del"),
            lease: duration("lease"),
            wait: duration("wait"),
            scan: duration("scan"),
            timeout: errors("timeout"),
            error: errors("error"),
            circuit_open: errors("circuit_open"),
            decode: errors("decode"),
            schema: errors("schema"),
            too_large: errors("too_large"),
            key_too_long: errors("key_too_long"),
        }
    }
}
