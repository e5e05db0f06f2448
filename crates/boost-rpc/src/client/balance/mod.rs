//! Power-of-two-choices load balancing over Peak-EWMA latency.
//!
//! For each attempt, [`Balance`] picks two endpoints at random and sends to the
//! one with the lower Peak-EWMA load (latency × in-flight). A failed
//! attempt counts as at least `default_rtt` of latency, so an endpoint that
//! fails fast does not attract traffic by looking fast. Two random
//! choices get almost all the benefit of "least loaded" without scanning, and
//! without every client herding onto the same "best" endpoint. tonic's own
//! `balance_list` cannot do this: its connections report a constant load.
//!
//! Endpoints live in a set shared by all clones (no `Buffer`, no queue):
//! discovery inserts and removes them, and in a [`Client`](super::Client)
//! each carries its health from [`eject`](super::eject):
//! - endpoints that are ejected or reconnecting are not picked;
//! - when no picked endpoint is ready and more than `max_ejected_percent` are
//!   ejected (or none is ready at all), ejected endpoints are used anyway
//!   (**panic mode**: better a flaky endpoint than none);
//! - when nothing can take the call, it fails at once with UNAVAILABLE and a
//!   message listing why each endpoint is out — it never queues.
//!
//! Before discovery has reported for the first time (a DNS name not yet
//! resolved), calls wait for it; the deadline bounds the wait.
//!
//! Why not tower's `p2c::Balance` + `PeakEwmaDiscover`: it is not `Clone`, so
//! sharing it needs a `Buffer` (a task hop per call); it waits for readiness
//! when no endpoint is ready, where we want to fail fast; and it cannot see
//! ejection or do panic mode. The algorithm here is the same (P2C over
//! Finagle's Peak-EWMA), over a shared set.
//!
//! Used alone, [`Balance::new`] balances over a fixed list of services
//! (none of them ejected: ejection is the client's, which tells the balancer
//! which endpoints are out). It is a service over many services, not a layer
//! over one, like tower's `p2c::Balance`.
//!
//! ```
//! # async fn demo() {
//! use boost_rpc::client::balance::Balance;
//! use boost_rpc::client::BalanceSettings;
//!
//! let endpoints = ["127.0.0.1:50052", "127.0.0.1:50053"].map(|addr| {
//!     let url = format!("http://{addr}");
//!     let channel = tonic::transport::Endpoint::from_shared(url).unwrap().connect_lazy();
//!     (addr.to_owned(), channel)
//! });
//! let balanced = Balance::new("profiles", &BalanceSettings::default(), endpoints);
//! # let _ = balanced;
//! # }
//! ```

mod ewma;
pub mod future;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use rand::Rng;
use tokio::sync::Notify;
use tower::discover::Change;
use tower::{Service, ServiceExt};

use self::ewma::{InFlight, PeakEwma};
use self::future::{Attempt, Dispatch, ResponseFuture};

use super::deadline::CallDeadline;
use super::eject::{Health, IgnoreEjection, is_endpoint_failure};
use super::metrics::EndpointState;
use crate::RpcError;
use crate::client::settings::{BalanceSettings, EjectionSettings};
use crate::status_code::grpc_status;

/// One endpoint: its key (address), service, load and health.
#[derive(Debug)]
pub(crate) struct Endpoint<S> {
    key: String,
    service: S,
    load: Arc<PeakEwma>,
    health: Option<Arc<Health>>,
}

impl<S> Endpoint<S> {
    /// The endpoint's key, e.g. `127.0.0.1:50052`.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }
    /// Its load estimate.
    #[cfg(test)]
    pub(crate) fn load(&self) -> &Arc<PeakEwma> {
        &self.load
    }
    /// Its health, when ejection is on.
    pub(crate) fn health(&self) -> Option<&Arc<Health>> {
        self.health.as_ref()
    }
    fn state(&self) -> EndpointState {
        self.health
            .as_ref()
            .map_or(EndpointState::Ready, |h| h.state())
    }
    fn looks_available(&self, now: Instant) -> bool {
        self.health.as_ref().is_none_or(|h| h.looks_available(now))
    }
}

/// The endpoints of one client, shared by all clones of its [`Balance`].
#[derive(Debug)]
pub(crate) struct EndpointSet<S> {
    name: String,
    settings: BalanceSettings,
    max_ejected_percent: u32,
    endpoints: RwLock<Arc<Vec<Arc<Endpoint<S>>>>>,
    resolved: AtomicBool,
    resolved_notify: Notify,
    why_empty: Mutex<Option<String>>,
}

impl<S> EndpointSet<S> {
    /// An empty set for the client `name`.
    pub(crate) fn new(
        name: &str,
        settings: &BalanceSettings,
        max_ejected_percent: u32,
    ) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            settings: settings.clone(),
            max_ejected_percent,
            endpoints: RwLock::new(Arc::new(Vec::new())),
            resolved: AtomicBool::new(false),
            resolved_notify: Notify::new(),
            why_empty: Mutex::new(None),
        })
    }

    /// The endpoints now.
    pub(crate) fn snapshot(&self) -> Arc<Vec<Arc<Endpoint<S>>>> {
        self.read().clone()
    }

    /// The endpoints now, borrowed (no reference count written per call).
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Arc<Vec<Arc<Endpoint<S>>>>> {
        match self.endpoints.read() {
            Ok(e) => e,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Adds (or replaces) the endpoint `key`.
    pub(crate) fn insert(&self, key: String, service: S, health: Option<Arc<Health>>) {
        let endpoint = Arc::new(Endpoint {
            load: Arc::new(PeakEwma::new(
                self.settings.default_rtt,
                self.settings.decay,
            )),
            key,
            service,
            health,
        });
        self.update(|list| {
            if let Some(old) = list.iter().position(|e| e.key == endpoint.key) {
                retire(&list.remove(old));
            }
            list.push(endpoint);
        });
    }

    /// Removes the endpoint `key`, if present.
    pub(crate) fn remove(&self, key: &str) {
        self.update(|list| {
            if let Some(old) = list.iter().position(|e| e.key == key) {
                retire(&list.remove(old));
            }
        });
    }

    /// Applies one discovery change; `make` builds the service of a new endpoint.
    pub(crate) fn apply<T>(
        &self,
        change: Change<String, T>,
        make: impl FnOnce(&String, T) -> (S, Option<Arc<Health>>),
    ) {
        match change {
            Change::Insert(key, target) => {
                let (service, health) = make(&key, target);
                self.insert(key, service, health);
            }
            Change::Remove(key) => self.remove(&key),
        }
    }

    /// Discovery has reported: waiting calls proceed. `why_empty` explains an
    /// empty set in the UNAVAILABLE message (e.g. a failed DNS lookup).
    pub(crate) fn mark_resolved(&self, why_empty: Option<String>) {
        if let Ok(mut w) = self.why_empty.lock() {
            *w = why_empty;
        }
        self.resolved.store(true, Ordering::Release);
        self.resolved_notify.notify_waiters();
    }

    fn update(&self, f: impl FnOnce(&mut Vec<Arc<Endpoint<S>>>)) {
        let mut guard = match self.endpoints.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut list: Vec<_> = guard.as_ref().clone();
        f(&mut list);
        *guard = Arc::new(list);
    }

    async fn wait_resolved(&self) {
        while !self.resolved.load(Ordering::Acquire) {
            let notified = self.resolved_notify.notified();
            if self.resolved.load(Ordering::Acquire) {
                break;
            }
            notified.await;
        }
    }

    fn unavailable(&self, list: &[Arc<Endpoint<S>>], now: Instant) -> RpcError {
        if list.is_empty() {
            let why = self
                .why_empty
                .lock()
                .ok()
                .and_then(|w| w.clone())
                .unwrap_or_else(|| "discovery returned no addresses".to_owned());
            return RpcError::unavailable_unsent(format!("{}: no endpoints ({why})", self.name));
        }
        let mut msg = format!("{}: all {} endpoints are out:", self.name, list.len());
        for e in list {
            let why = e
                .health
                .as_ref()
                .and_then(|h| h.admit(now, true).err())
                .unwrap_or_else(|| "busy probing".to_owned());
            let _ = write!(msg, " {} {why};", e.key);
        }
        RpcError::unavailable_unsent(msg)
    }

    /// Picks an endpoint with P2C; `bool` = panic mode.
    fn pick<'a>(
        &self,
        list: &'a [Arc<Endpoint<S>>],
        now: Instant,
    ) -> Option<(&'a Arc<Endpoint<S>>, bool)> {
        let n = list.len();
        let mut rng = rand::rng();
        let (a, b) = match n {
            0 => return None,
            1 => (0, 0),
            _ => {
                let a = rng.random_range(0..n);
                let mut b = rng.random_range(0..n - 1);
                if b >= a {
                    b += 1;
                }
                (a, b)
            }
        };
        let (ea, eb) = (&list[a], &list[b]);
        match (ea.looks_available(now), eb.looks_available(now)) {
            (true, true) => return Some((lower(ea, eb, now), false)),
            (true, false) => return Some((ea, false)),
            (false, true) => return Some((eb, false)),
            (false, false) => {}
        }
        // Slow path: neither pick is ready; look at everyone.
        let ready: Vec<&Arc<Endpoint<S>>> =
            list.iter().filter(|e| e.looks_available(now)).collect();
        let ejected: Vec<&Arc<Endpoint<S>>> = list
            .iter()
            .filter(|e| e.state() == EndpointState::Ejected)
            .collect();
        let panic = ready.is_empty()
            || ejected.len() * 100 > n * self.max_ejected_percent.min(100) as usize;
        let candidates: Vec<&Arc<Endpoint<S>>> = if panic {
            ready.into_iter().chain(ejected).collect()
        } else {
            ready
        };
        match candidates.len() {
            0 => None,
            1 => Some((candidates[0], panic)),
            m => {
                let a = rng.random_range(0..m);
                let b = (a + 1 + rng.random_range(0..m - 1)) % m;
                Some((lower(candidates[a], candidates[b], now), panic))
            }
        }
    }
}

fn lower<'a, S>(
    a: &'a Arc<Endpoint<S>>,
    b: &'a Arc<Endpoint<S>>,
    now: Instant,
) -> &'a Arc<Endpoint<S>> {
    // One endpoint (n = 1 picks it twice): nothing to compare.
    if Arc::ptr_eq(a, b) {
        return a;
    }
    if b.load.load(now) < a.load.load(now) {
        b
    } else {
        a
    }
}

fn retire<S>(e: &Endpoint<S>) {
    if let Some(h) = &e.health {
        h.retire();
    }
}

/// Sends each request to one of its endpoints: the less loaded of two picked
/// at random (see the [module docs](self)). Cheap to clone; clones share the
/// endpoints.
#[derive(Debug)]
pub struct Balance<S> {
    set: Arc<EndpointSet<S>>,
}

impl<S> Clone for Balance<S> {
    fn clone(&self) -> Self {
        Self {
            set: self.set.clone(),
        }
    }
}

impl<S> Balance<S> {
    /// Balances over a fixed list of `(key, service)` endpoints (the key,
    /// e.g. `10.0.0.7:50052`, names the endpoint in errors and spans) for
    /// the client named `client`. A later endpoint with the same key
    /// replaces an earlier one; an empty list fails every call with
    /// UNAVAILABLE.
    pub fn new(
        client: &str,
        settings: &BalanceSettings,
        endpoints: impl IntoIterator<Item = (String, S)>,
    ) -> Self {
        let set = EndpointSet::new(
            client,
            settings,
            EjectionSettings::default().max_ejected_percent,
        );
        for (key, service) in endpoints {
            set.insert(key, service, None);
        }
        set.mark_resolved(None);
        Self::over(set)
    }

    /// Balances over `set`, which discovery and ejection keep up to date.
    pub(crate) const fn over(set: Arc<EndpointSet<S>>) -> Self {
        Self { set }
    }

    /// The endpoint set.
    pub(crate) fn endpoints(&self) -> &Arc<EndpointSet<S>> {
        &self.set
    }
}

impl<S, B, R> Service<Request<B>> for Balance<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + Sync + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Send + 'static,
{
    type Response = Response<R>;
    type Error = RpcError;
    type Future = ResponseFuture<S, Request<B>, R>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        // Readiness is decided per call: an endpoint is picked in `call`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if self.set.resolved.load(Ordering::Acquire) {
            // The common case: pick now, nothing boxed.
            let list = self.set.read();
            let now = super::call_now();
            let Some((endpoint, panic)) = self.set.pick(&list, now) else {
                return ResponseFuture {
                    attempt: None,
                    done: Some(self.set.unavailable(&list, now)),
                    waiting: None,
                };
            };
            if panic {
                request.extensions_mut().insert(IgnoreEjection);
            }
            // The caller's span (the observe layer enters its span around
            // `call`) names the endpoint tried last.
            let span = tracing::Span::current();
            if !span.is_disabled() {
                span.record("server.address", endpoint.key.as_str());
            }
            let in_flight = endpoint.load.start_at(now);
            return ResponseFuture {
                attempt: Some(Attempt {
                    call: Dispatch::start(endpoint.service.clone(), request),
                    in_flight: Some(in_flight),
                    penalty: self.set.settings.default_rtt,
                }),
                done: None,
                waiting: None,
            };
        }
        let set = self.set.clone();
        let waiting = Box::pin(async move {
            if !set.resolved.load(Ordering::Acquire) {
                // Bounded by the call's deadline when there is one.
                match request.extensions().get::<CallDeadline>() {
                    Some(d) => {
                        let until = d.0.into();
                        if tokio::time::timeout_at(until, set.wait_resolved())
                            .await
                            .is_err()
                        {
                            return Err(RpcError::deadline_exceeded(format!(
                                "{}: deadline passed before discovery found any endpoint; not sent",
                                set.name
                            )));
                        }
                    }
                    None => set.wait_resolved().await,
                }
            }
            let list = set.snapshot();
            let now = Instant::now();
            let Some((endpoint, panic)) = set.pick(&list, now) else {
                return Err(set.unavailable(&list, now));
            };
            if panic {
                request.extensions_mut().insert(IgnoreEjection);
            }
            tracing::Span::current().record("server.address", endpoint.key.as_str());
            let in_flight = endpoint.load.start();
            let penalty = set.settings.default_rtt;
            match endpoint.service.clone().oneshot(request).await {
                Ok(response) => {
                    if grpc_status(response.headers()).is_some_and(is_endpoint_failure) {
                        in_flight.fail(penalty);
                    } else {
                        in_flight.complete();
                    }
                    Ok(response)
                }
                Err(e) => {
                    in_flight.fail(penalty);
                    Err(RpcError::from_boxed(e.into()))
                }
            }
        });
        ResponseFuture {
            attempt: None,
            done: None,
            waiting: Some(waiting),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::client::eject::{Admission, Outcome};
    use crate::client::settings::{EjectionSettings, ReconnectSettings};

    fn set_of(n: usize) -> (Arc<EndpointSet<()>>, Vec<Arc<Health>>) {
        let set = EndpointSet::new("test", &BalanceSettings::default(), 50);
        let mut healths = Vec::new();
        for i in 0..n {
            let h = Arc::new(Health::new(
                EjectionSettings::default(),
                ReconnectSettings::default(),
                None,
            ));
            set.insert(format!("10.0.0.{i}:80"), (), Some(h.clone()));
            healths.push(h);
        }
        (set, healths)
    }

    fn eject(h: &Health) {
        for _ in 0..5 {
            h.record(Outcome::Failure, Admission::Ready, Instant::now());
        }
    }

    #[test]
    fn ejected_endpoints_are_not_picked_until_more_than_half_are_out() {
        let (set, healths) = set_of(3);
        eject(&healths[0]);
        let list = set.snapshot();
        for _ in 0..100 {
            let (picked, panic) = set.pick(&list, Instant::now()).unwrap();
            assert_ne!(picked.key(), "10.0.0.0:80");
            assert!(!panic);
        }
        eject(&healths[1]);
        let mut saw_ejected = false;
        for _ in 0..200 {
            let (picked, panic) = set.pick(&list, Instant::now()).unwrap();
            saw_ejected |= picked.key() != "10.0.0.2:80";
            assert!(panic || picked.key() == "10.0.0.2:80");
        }
        assert!(
            saw_ejected,
            "2 of 3 ejected (> 50%): panic mode uses them too"
        );
    }

    #[test]
    fn nothing_available_explains_each_endpoint() {
        let (set, healths) = set_of(2);
        for h in &healths {
            h.record(Outcome::ConnectFailure, Admission::Ready, Instant::now());
        }
        let list = set.snapshot();
        assert!(set.pick(&list, Instant::now()).is_none());
        let err = set.unavailable(&list, Instant::now());
        let msg = err.status().message().to_owned();
        assert!(msg.contains("all 2 endpoints are out"), "{msg}");
        assert!(msg.contains("10.0.0.1:80 reconnecting"), "{msg}");
        assert!(err.is_unsent());
    }

    #[test]
    fn the_lower_load_of_two_wins() {
        let (set, _) = set_of(2);
        let list = set.snapshot();
        list[0]
            .load()
            .observe(Duration::from_millis(100), Instant::now());
        list[1]
            .load()
            .observe(Duration::from_millis(1), Instant::now());
        for _ in 0..20 {
            let (picked, _) = set.pick(&list, Instant::now()).unwrap();
            assert_eq!(picked.key(), "10.0.0.1:80");
        }
    }

    #[tokio::test]
    async fn alone_it_balances_over_a_fixed_list_and_fails_fast_when_empty() {
        use tower::ServiceExt;
        let answer = |name: &'static str| {
            tower::service_fn(move |_: Request<()>| async move {
                Ok::<_, RpcError>(Response::new(name))
            })
        };
        let endpoints = [
            ("a:1".to_owned(), answer("a")),
            ("b:1".to_owned(), answer("b")),
        ];
        // No latency assumed for new endpoints: each gets traffic at once
        // (with the default 30 ms, the first to answer keeps it all here).
        let settings = BalanceSettings {
            default_rtt: Duration::ZERO,
            ..BalanceSettings::default()
        };
        let balance = Balance::new("test", &settings, endpoints);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let response = balance.clone().oneshot(Request::new(())).await.unwrap();
            seen.insert(*response.body());
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["a", "b"]);

        let mut none = vec![("a:1".to_owned(), answer("a"))];
        none.clear();
        let empty = Balance::new("test", &BalanceSettings::default(), none);
        let err = empty.oneshot(Request::new(())).await.unwrap_err();
        assert!(err.is_unavailable() && err.is_unsent(), "{err}");
        assert!(err.to_string().contains("test: no endpoints"), "{err}");
    }
}
