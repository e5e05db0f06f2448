//! Power-of-two-choices load balancing over Peak-EWMA latency.
//!
//! For each attempt, [`Balance`] picks two endpoints at random and sends to the
//! one with the lower [`PeakEwma`] load (latency × in-flight). A failed
//! attempt counts as at least `default_rtt` of latency, so an endpoint that
//! fails fast does not attract traffic by looking fast. Two random
//! choices get almost all the benefit of "least loaded" without scanning, and
//! without every client herding onto the same "best" endpoint. tonic's own
//! `balance_list` cannot do this: its connections report a constant load.
//!
//! Endpoints live in an [`EndpointSet`] shared by all clones (no `Buffer`, no
//! queue): discovery inserts and removes them ([`EndpointSet::apply`]), and
//! each may carry a [`Health`] from [`crate::client::eject`]:
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
//! ```
//! # async fn demo() {
//! use boost_rpc::client::balance::{Balance, EndpointSet};
//! use boost_rpc::client::ClientSettings;
//!
//! let settings = ClientSettings::default();
//! let set = EndpointSet::new("profiles", &settings.balance, settings.ejection.max_ejected_percent);
//! for url in ["http://127.0.0.1:50052", "http://127.0.0.1:50053"] {
//!     let channel = tonic::transport::Endpoint::from_static(url).connect_lazy();
//!     set.insert(url.to_owned(), channel, None);
//! }
//! set.mark_resolved(None);
//! let balanced = Balance::new(set);
//! # let _ = balanced;
//! # }
//! ```

mod ewma;

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use rand::Rng;
use tokio::sync::Notify;
use tower::discover::Change;
use tower::{Service, ServiceExt};

pub use ewma::{InFlight, PeakEwma};

use super::deadline::CallDeadline;
use super::eject::{Health, IgnoreEjection, is_endpoint_failure};
use super::metrics::EndpointState;
use crate::RpcError;
use crate::client::settings::BalanceSettings;
use crate::status_code::grpc_status;

/// One endpoint: its key (address), service, load and health.
#[derive(Debug)]
pub struct Endpoint<S> {
    key: String,
    service: S,
    load: Arc<PeakEwma>,
    health: Option<Arc<Health>>,
}

impl<S> Endpoint<S> {
    /// The endpoint's key, e.g. `127.0.0.1:50052`.
    pub fn key(&self) -> &str {
        &self.key
    }
    /// Its load estimate.
    pub fn load(&self) -> &Arc<PeakEwma> {
        &self.load
    }
    /// Its health, when ejection is on.
    pub fn health(&self) -> Option<&Arc<Health>> {
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
pub struct EndpointSet<S> {
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
    pub fn new(name: &str, settings: &BalanceSettings, max_ejected_percent: u32) -> Arc<Self> {
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
    pub fn snapshot(&self) -> Arc<Vec<Arc<Endpoint<S>>>> {
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
    pub fn insert(&self, key: String, service: S, health: Option<Arc<Health>>) {
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
    pub fn remove(&self, key: &str) {
        self.update(|list| {
            if let Some(old) = list.iter().position(|e| e.key == key) {
                retire(&list.remove(old));
            }
        });
    }

    /// Applies one discovery change; `make` builds the service of a new endpoint.
    pub fn apply<T>(
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
    pub fn mark_resolved(&self, why_empty: Option<String>) {
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

/// Sends each request to one endpoint of an [`EndpointSet`]. Cheap to clone.
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
    /// Balances over `set`.
    pub const fn new(set: Arc<EndpointSet<S>>) -> Self {
        Self { set }
    }
    /// The endpoint set.
    pub fn endpoints(&self) -> &Arc<EndpointSet<S>> {
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
    type Future = BalanceFuture<S, Request<B>, R>;

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
                return BalanceFuture {
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
            return BalanceFuture {
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
        BalanceFuture {
            attempt: None,
            done: None,
            waiting: Some(waiting),
        }
    }
}

pin_project_lite::pin_project! {
    /// Sending to the picked endpoint's service: called at once when it is
    /// ready (the usual case: a channel with room in its queue), so the
    /// future does not carry the request; otherwise a boxed [`Oneshot`]
    /// waits for readiness.
    ///
    /// [`Oneshot`]: tower::util::Oneshot
    #[project = DispatchProj]
    enum Dispatch<S: Service<Req>, Req> {
        Called {
            #[pin]
            future: S::Future,
        },
        Waiting {
            oneshot: Pin<Box<tower::util::Oneshot<S, Req>>>,
        },
    }
}

impl<S: Service<Req>, Req> Dispatch<S, Req> {
    fn start(mut service: S, request: Req) -> Self {
        // Readiness without a task: a `Pending` here is asked again, with
        // the task's waker, by the `Oneshot`.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match service.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => Self::Called {
                future: service.call(request),
            },
            // An error is reported by the `Oneshot` the same way.
            _ => Self::Waiting {
                oneshot: Box::pin(service.oneshot(request)),
            },
        }
    }
}

impl<S: Service<Req>, Req> Future for Dispatch<S, Req> {
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            DispatchProj::Called { future } => future.poll(cx),
            DispatchProj::Waiting { oneshot } => oneshot.as_mut().poll(cx),
        }
    }
}

/// A call that waits for discovery's first answer (only before it), boxed.
type Waiting<R> = Pin<Box<dyn Future<Output = Result<Response<R>, RpcError>> + Send>>;

pin_project_lite::pin_project! {
    /// Response future of [`Balance`]. Once discovery has answered, an
    /// endpoint is picked in `call` and the attempt is not boxed.
    pub struct BalanceFuture<S: Service<Req>, Req, R> {
        #[pin]
        attempt: Option<Attempt<S, Req>>,
        done: Option<RpcError>,
        waiting: Option<Waiting<R>>,
    }
}

pin_project_lite::pin_project! {
    /// One attempt on a picked endpoint.
    struct Attempt<S: Service<Req>, Req> {
        #[pin]
        call: Dispatch<S, Req>,
        in_flight: Option<InFlight>,
        penalty: std::time::Duration,
    }
}

impl<S, B, R> Future for BalanceFuture<S, Request<B>, R>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Output = Result<Response<R>, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(attempt) = this.attempt.as_pin_mut() {
            let attempt = attempt.project();
            let result = std::task::ready!(attempt.call.poll(cx));
            let Some(in_flight) = attempt.in_flight.take() else {
                return Poll::Ready(result.map_err(|e| RpcError::from_boxed(e.into())));
            };
            return Poll::Ready(match result {
                Ok(response) => {
                    if grpc_status(response.headers()).is_some_and(is_endpoint_failure) {
                        in_flight.fail(*attempt.penalty);
                    } else {
                        in_flight.complete();
                    }
                    Ok(response)
                }
                Err(e) => {
                    in_flight.fail(*attempt.penalty);
                    Err(RpcError::from_boxed(e.into()))
                }
            });
        }
        if let Some(waiting) = this.waiting {
            return waiting.as_mut().poll(cx);
        }
        Poll::Ready(Err(this.done.take().unwrap_or_else(|| {
            RpcError::unavailable_unsent("balancer polled after completion")
        })))
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
}
