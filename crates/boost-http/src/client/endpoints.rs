//! The base URLs of one client: which to try next, and ejection of those that
//! keep failing.
//!
//! Each request picks between two random base URLs in rotation the one with
//! fewer requests in flight (power of two choices), avoiding the one its
//! previous attempt failed on. `ejection.consecutive_failures` failures in a
//! row take a base URL out for `base_ejection`, doubling with each ejection in
//! a row up to `max_ejection`; one success puts the count back to zero. The
//! last base URL in rotation is never ejected, and when every one is out the
//! one coming back soonest is used: a client always tries *something* rather
//! than fail without sending.

use std::cell::OnceCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use boost_metrics::conventions::{CLIENT, ENDPOINT, HTTP_CLIENT_EJECTIONS_TOTAL};
use boost_rpc::client::EndpointState;
use boost_rpc::upstreams::UpstreamEndpoint;
use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme};
use rand::Rng;

use super::settings::HttpEjectionSettings;

/// One parsed base URL.
#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub(crate) scheme: Scheme,
    pub(crate) authority: Authority,
    /// The path prefix without a trailing slash (`""` or `/v2`).
    pub(crate) prefix: String,
    /// `https://host:port/v2`, for logs and labels (never has credentials).
    pub(crate) label: String,
    /// The `server_address` label: the host (brackets kept for IPv6).
    /// Shared, so labelling a call does not allocate.
    pub(crate) server_address: Arc<str>,
    /// The `server_port` label: the URL's port or the scheme's default.
    pub(crate) server_port: Arc<str>,
}

impl Base {
    /// Parses `url`; the error says what is wrong without repeating it.
    pub(crate) fn parse(url: &str) -> Result<Self, &'static str> {
        if url.len() > 2048 {
            return Err("is longer than 2048 bytes");
        }
        let uri: http::Uri = url
            .parse()
            .map_err(|_| "is not a URL such as \"https://api.example.com/v2\"")?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or("needs a scheme: http:// or https://")?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err("must start with http:// or https://");
        }
        let authority = uri.authority().cloned().ok_or("needs a host")?;
        if authority.as_str().contains('@') {
            return Err("must not carry credentials (user:password@): send them as a header");
        }
        if uri.query().is_some() {
            return Err("must not have a query (?...)");
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        let label = format!("{scheme}://{authority}{prefix}");
        let default_port = if scheme == Scheme::HTTPS { 443 } else { 80 };
        let port = authority.port_u16().unwrap_or(default_port);
        Ok(Base {
            server_address: authority.host().into(),
            server_port: port.to_string().into(),
            scheme,
            authority,
            prefix,
            label,
        })
    }

    /// The absolute URI of `path` on this base URL, built from its parts:
    /// nothing is formatted or parsed again but a prefix joined to the path.
    pub(crate) fn uri(&self, path: &PathAndQuery) -> Result<Uri, http::Error> {
        let path = if self.prefix.is_empty() {
            path.clone()
        } else {
            let mut joined = String::with_capacity(self.prefix.len() + path.as_str().len());
            joined.push_str(&self.prefix);
            joined.push_str(path.as_str());
            PathAndQuery::try_from(joined)?
        };
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path);
        Ok(Uri::from_parts(parts)?)
    }
}

/// One base URL and its health.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) base: Base,
    in_flight: AtomicUsize,
    failures: AtomicU32,
    ejections: AtomicU32,
    /// When the ejection ends, in nanoseconds after [`Endpoints::origin`]
    /// plus one; 0 when it was never ejected. An atomic, not a lock: every
    /// request reads it for every base URL.
    ejected_until: AtomicU64,
}

/// `now`, read from the clock once and only if some base URL was ejected.
struct LazyNow(OnceCell<Instant>);

impl LazyNow {
    fn get(&self) -> Instant {
        *self.0.get_or_init(Instant::now)
    }
}

/// The base URLs of a client.
#[derive(Debug)]
pub(crate) struct Endpoints {
    client: String,
    endpoints: Vec<Endpoint>,
    ejection: HttpEjectionSettings,
    /// The instant ejection times are counted from.
    origin: Instant,
}

/// An attempt's hold on its endpoint: counts it in flight until dropped.
#[derive(Debug)]
pub(crate) struct InFlight<'a> {
    pub(crate) index: usize,
    endpoint: &'a Endpoint,
}

impl<'a> InFlight<'a> {
    pub(crate) fn base(&self) -> &'a Base {
        &self.endpoint.base
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.endpoint.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Endpoints {
    pub(crate) fn new(client: &str, bases: Vec<Base>, ejection: HttpEjectionSettings) -> Self {
        let endpoints = bases
            .into_iter()
            .map(|base| Endpoint {
                base,
                in_flight: AtomicUsize::new(0),
                failures: AtomicU32::new(0),
                ejections: AtomicU32::new(0),
                ejected_until: AtomicU64::new(0),
            })
            .collect();
        Endpoints {
            client: client.to_owned(),
            endpoints,
            origin: Instant::now(),
            ejection,
        }
    }

    /// The endpoint for the next attempt, avoiding `avoid` when another is in rotation.
    pub(crate) fn pick(&self, avoid: Option<usize>) -> InFlight<'_> {
        let now = LazyNow(OnceCell::new());
        let usable = |i: usize| !self.is_ejected_at(i, &now);
        let preferred = |i: usize| Some(i) != avoid && usable(i);
        let index = self
            .two_choices(preferred)
            .or_else(|| self.two_choices(usable))
            .unwrap_or_else(|| self.soonest_back());
        let endpoint = &self.endpoints[index];
        endpoint.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight { index, endpoint }
    }

    /// Of two random endpoints that `eligible` admits, the one with fewer
    /// requests in flight; `None` if it admits none. Allocates nothing: the
    /// candidates are counted, then the two drawn are found by position.
    fn two_choices(&self, eligible: impl Fn(usize) -> bool) -> Option<usize> {
        let n = self.endpoints.len();
        let nth = |k: usize| (0..n).filter(|&i| eligible(i)).nth(k);
        let len = (0..n).filter(|&i| eligible(i)).count();
        match len {
            0 => None,
            1 => nth(0),
            len => {
                let mut rng = rand::rng();
                let a = rng.random_range(0..len);
                let mut b = rng.random_range(0..len - 1);
                if b == a {
                    b = len - 1;
                }
                // Another request may eject one between the count and now:
                // then whichever of the two is still there.
                let (a, b) = match (nth(a), nth(b)) {
                    (Some(a), Some(b)) => (a, b),
                    (Some(one), None) | (None, Some(one)) => (one, one),
                    (None, None) => return nth(0),
                };
                let load = |i: usize| self.endpoints[i].in_flight.load(Ordering::Relaxed);
                Some(if load(b) < load(a) { b } else { a })
            }
        }
    }

    /// When endpoint `index`'s ejection ends, if it is ejected at `now`.
    fn ejected_until(&self, index: usize, now: &LazyNow) -> Option<Instant> {
        let stored = self
            .endpoints
            .get(index)?
            .ejected_until
            .load(Ordering::Relaxed);
        if stored == 0 {
            return None;
        }
        let until = self.origin.checked_add(Duration::from_nanos(stored - 1))?;
        (until > now.get()).then_some(until)
    }

    fn is_ejected_at(&self, index: usize, now: &LazyNow) -> bool {
        self.ejected_until(index, now).is_some()
    }

    fn soonest_back(&self) -> usize {
        let now = LazyNow(OnceCell::new());
        (0..self.endpoints.len())
            .min_by_key(|&i| self.ejected_until(i, &now))
            .unwrap_or(0)
    }

    /// Records how an attempt on endpoint `index` went.
    pub(crate) fn record(&self, index: usize, failed: bool) {
        let Some(endpoint) = self.endpoints.get(index) else {
            return;
        };
        if !failed {
            // Read before writing: a store on every success would move the
            // cache line between the cores sending through this client.
            if endpoint.failures.load(Ordering::Relaxed) != 0 {
                endpoint.failures.store(0, Ordering::Relaxed);
            }
            if endpoint.ejections.load(Ordering::Relaxed) != 0 {
                endpoint.ejections.store(0, Ordering::Relaxed);
            }
            return;
        }
        let threshold = self.ejection.consecutive_failures;
        let failures = endpoint.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if threshold == 0 || failures < threshold {
            return;
        }
        let now = LazyNow(OnceCell::new());
        let others_in = (0..self.endpoints.len())
            .filter(|&i| i != index && !self.is_ejected_at(i, &now))
            .count();
        if others_in == 0 {
            // The last one in rotation stays: better a failing upstream than none.
            return;
        }
        endpoint.failures.store(0, Ordering::Relaxed);
        let round = endpoint.ejections.fetch_add(1, Ordering::Relaxed).min(16);
        let length = self
            .ejection
            .base_ejection
            .saturating_mul(1u32 << round)
            .min(self.ejection.max_ejection);
        let until = now
            .get()
            .saturating_duration_since(self.origin)
            .saturating_add(length);
        let nanos = u64::try_from(until.as_nanos()).unwrap_or(u64::MAX - 1);
        endpoint
            .ejected_until
            .store(nanos.saturating_add(1), Ordering::Relaxed);
        metrics::counter!(HTTP_CLIENT_EJECTIONS_TOTAL,
            CLIENT => self.client.clone(), ENDPOINT => endpoint.base.label.clone())
        .increment(1);
        tracing::warn!(client = %self.client, endpoint = %endpoint.base.label,
            failures, ejected_for = ?length,
            "base URL taken out of rotation after consecutive failures");
    }

    /// Each base URL's state now, for `/upstreams`.
    pub(crate) fn status(&self) -> Vec<UpstreamEndpoint> {
        let now = LazyNow(OnceCell::from(Instant::now()));
        self.endpoints
            .iter()
            .enumerate()
            .map(|(index, endpoint)| {
                let until = self.ejected_until(index, &now);
                let state = if until.is_some() {
                    EndpointState::Ejected
                } else {
                    EndpointState::Ready
                };
                let mut status = UpstreamEndpoint::new(endpoint.base.label.clone(), state);
                status.back_in = until.map(|until| until.saturating_duration_since(now.get()));
                status.consecutive_failures = endpoint.failures.load(Ordering::Relaxed);
                status.reason = until.map(|_| {
                    format!(
                        "{} consecutive failures (ejection {} in a row)",
                        self.ejection.consecutive_failures,
                        endpoint.ejections.load(Ordering::Relaxed)
                    )
                });
                status
            })
            .collect()
    }

    /// The base URL at `index` (as [`pick`](Self::pick) returned it).
    pub(crate) fn base_at(&self, index: usize) -> Option<&Base> {
        self.endpoints.get(index).map(|endpoint| &endpoint.base)
    }

    /// Whether endpoint `index` is out of rotation now.
    #[cfg(test)]
    pub(crate) fn is_ejected(&self, index: usize) -> bool {
        self.is_ejected_at(index, &LazyNow(OnceCell::new()))
    }
}

/// How long the ejection of round `round` (0-based) lasts.
#[cfg(test)]
fn ejection_length(settings: &HttpEjectionSettings, round: u32) -> std::time::Duration {
    settings
        .base_ejection
        .saturating_mul(1u32 << round.min(16))
        .min(settings.max_ejection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn endpoints(n: usize) -> Endpoints {
        let bases = (0..n)
            .map(|i| Base::parse(&format!("http://127.0.0.1:{}", 1000 + i)).unwrap())
            .collect();
        let ejection = HttpEjectionSettings {
            consecutive_failures: 2,
            ..HttpEjectionSettings::default()
        };
        Endpoints::new("t", bases, ejection)
    }

    #[test]
    fn parse_keeps_the_prefix_and_refuses_credentials() {
        let base = Base::parse("https://api.example.com/v2/").unwrap();
        assert_eq!(base.prefix, "/v2");
        assert_eq!(base.label, "https://api.example.com/v2");
        assert!(Base::parse("https://u:p@api.example.com").is_err());
        assert!(Base::parse("api.example.com").is_err());
        assert!(Base::parse("https://api.example.com/?k=v").is_err());
    }

    #[test]
    fn failing_endpoint_is_ejected_but_never_the_last() {
        let e = endpoints(2);
        e.record(0, true);
        assert!(!e.is_ejected(0));
        e.record(0, true);
        assert!(e.is_ejected(0));
        for _ in 0..10 {
            assert_eq!(e.pick(None).index, 1, "ejected endpoints get no traffic");
        }
        e.record(1, true);
        e.record(1, true);
        assert!(!e.is_ejected(1), "the last one in rotation stays");
    }

    #[test]
    fn retries_avoid_the_endpoint_that_failed() {
        let e = endpoints(3);
        for _ in 0..20 {
            assert_ne!(e.pick(Some(2)).index, 2);
        }
        let single = endpoints(1);
        assert_eq!(single.pick(Some(0)).index, 0);
    }

    fn ejecting(base_ejection: Duration, max_ejection: Duration) -> Endpoints {
        let mut e = endpoints(2);
        e.ejection.base_ejection = base_ejection;
        e.ejection.max_ejection = max_ejection;
        e
    }

    fn back_in(e: &Endpoints, index: usize) -> Option<Duration> {
        e.status()[index].back_in
    }

    #[test]
    fn an_ejection_ends_and_the_next_one_in_a_row_lasts_twice_as_long() {
        // Long enough that no stall between two lines on a loaded machine
        // reaches it; the test sleeps about 3 × this.
        let base = Duration::from_millis(500);
        let e = ejecting(base, Duration::from_secs(60));
        e.record(0, true);
        e.record(0, true);
        assert!(e.is_ejected(0));
        let first = back_in(&e, 0).expect("ejected");
        assert!(first <= base, "{first:?}");
        assert_eq!(e.status()[0].state, EndpointState::Ejected);
        std::thread::sleep(base + Duration::from_millis(50));
        assert!(!e.is_ejected(0), "back after {base:?}");
        assert_eq!(back_in(&e, 0), None);
        assert_eq!(e.status()[0].state, EndpointState::Ready);
        // Failing again straight away, with no success in between: twice as long.
        e.record(0, true);
        e.record(0, true);
        let second = back_in(&e, 0).expect("ejected again");
        assert!(second > base && second <= 2 * base, "{second:?}");
        // One success puts the count back: the next ejection is the first length again.
        std::thread::sleep(2 * base + Duration::from_millis(50));
        e.record(0, false);
        e.record(0, true);
        e.record(0, true);
        assert!(back_in(&e, 0).expect("ejected") <= base);
    }

    #[test]
    fn when_every_base_url_is_out_the_one_back_soonest_is_used() {
        let e = endpoints(3);
        let origin_plus = |d: Duration| u64::try_from(d.as_nanos()).unwrap() + 1;
        let now = e.origin.elapsed();
        for (i, later) in [(0, 30), (1, 10), (2, 20)] {
            let until = origin_plus(now + Duration::from_secs(later));
            e.endpoints[i].ejected_until.store(until, Ordering::Relaxed);
        }
        assert!((0..3).all(|i| e.is_ejected(i)));
        assert_eq!(e.pick(None).index, 1);
    }

    #[test]
    fn an_ejection_too_long_to_count_is_as_long_as_it_can_be_not_a_panic() {
        let e = ejecting(Duration::MAX, Duration::MAX);
        e.record(0, true);
        e.record(0, true);
        assert!(e.is_ejected(0));
        assert!(back_in(&e, 0).expect("ejected") > Duration::from_secs(100 * 365 * 86_400));
    }

    #[test]
    fn uris_join_the_prefix_path_and_query() {
        let path = |p: &str| p.parse::<PathAndQuery>().unwrap();
        let base = Base::parse("https://api.example.com/v2/").unwrap();
        let uri = base.uri(&path("/quotes?city=LIS&n=2")).unwrap();
        assert_eq!(
            uri.to_string(),
            "https://api.example.com/v2/quotes?city=LIS&n=2"
        );
        assert_eq!(
            base.uri(&path("/")).unwrap().to_string(),
            "https://api.example.com/v2/"
        );
        let bare = Base::parse("http://127.0.0.1:8080").unwrap();
        let uri = bare.uri(&path("/v1/hello/ada?x=1")).unwrap();
        assert_eq!(uri.to_string(), "http://127.0.0.1:8080/v1/hello/ada?x=1");
        assert_eq!(uri.authority().unwrap().as_str(), "127.0.0.1:8080");
    }

    #[test]
    fn ejections_double_up_to_the_cap() {
        let s = HttpEjectionSettings::default();
        assert_eq!(ejection_length(&s, 0), Duration::from_secs(10));
        assert_eq!(ejection_length(&s, 1), Duration::from_secs(20));
        assert_eq!(ejection_length(&s, 10), Duration::from_secs(120));
    }
}
