//! Load shedding: a concurrency limit that answers at once instead of queueing.
//!
//! [`LoadShedLayer::new(limit)`](LoadShedLayer::new) lets at most `limit` calls
//! run at the same time across every connection the server holds. A call that
//! arrives when all slots are taken is answered immediately with
//! `RESOURCE_EXHAUSTED` ("server overloaded; retry later") — HTTP `429` for a
//! non-gRPC request — without reaching the handler. Nothing waits in a queue:
//! a queue in front of a saturated server only adds latency to every call
//! until callers' deadlines pass, while a quick refusal lets a client retry
//! elsewhere (boost-rpc clients do, within their retry budget).
//!
//! Under a fixed limit a slot is held until the response body ends, so a
//! streaming call occupies its slot for as long as it streams. Under the
//! adaptive limit it is given back at the response head (below).
//!
//! # The adaptive limit
//!
//! A fixed limit is right only on the machine it was tuned on: too high and
//! latency explodes long before shedding starts, too low and capacity is
//! wasted. With [`AdaptiveLimitSettings::enabled`]
//! (`[grpc.server.adaptive_limit]`) the limit follows the server's latency:
//! it rises while calls take about as long as they do unloaded, and falls
//! once they start to queue — between `min_limit` and `concurrency_limit`,
//! which becomes the ceiling.
//!
//! The algorithm is **Gradient2** from Netflix's concurrency-limits (see
//! `gradient`): each window's mean latency against a long-term average of
//! it, the limit scaled by their ratio. Gradient2 over Vegas because Vegas
//! compares with the *minimum* latency ever seen, and one lucky call on a
//! noisy machine (or a cache hit among misses) then reads as permanent
//! queueing; a long-term average is robust to outliers in both directions,
//! tolerates a set amount of latency growth before it cuts (`tolerance`),
//! and follows a handler that really became slower (a new release, a slower
//! database) instead of starving it. Its known weakness is that a long,
//! sustained overload slowly raises what counts as "no load" (the average
//! follows the queued latency): `long_window` (10 minutes) makes that drift
//! slow, and the average decays quickly once an overload ends.
//!
//! A call's latency is measured from admission to its **response head**: for
//! a unary call that is the handler's whole run (tonic answers when the
//! handler returns; the body then only carries the one message), and for a
//! streaming call it is the time to start answering, not the stream's
//! lifetime, which the client chooses and which says nothing about the
//! server's capacity (a watch stream open for an hour is not a slow server).
//! The slot is given back then too: the adaptive limit bounds calls until
//! they answer, so long streams do not fill it and get new calls shed (what
//! a stream does after its head is the handler's to bound). A call dropped
//! before its answer (the client went away, often on its deadline) counts
//! with the time it waited, a lower bound: otherwise an overload that makes
//! callers give up would hide its slowest calls from the limit.
//!
//! gRPC health checks (`grpc.health.v1.Health/Check`, `Watch`, `List`) are
//! never shed by either limit: a probe refused because the server is loaded
//! reads as a dead server, and a Kubernetes liveness probe would restart it
//! just when its capacity is needed. They take a slot of their own instead,
//! [`MAX_PROBES`] at most, given back at the response head, and are not
//! measured: so they cannot crowd calls out either (a thousand `Watch`
//! streams, or stalled `Check`s, once held every slot of the limit).
//!
//! Shed gRPC calls carry `grpc-retry-pushback-ms` (`retry_pushback`, 100 ms):
//! a boost-rpc client that retries `RESOURCE_EXHAUSTED` waits that long
//! instead of its own backoff, and never retries past its deadline. The
//! fixed limit sends none, exactly as before.
//!
//! [`stack`](super::stack) builds it from [`ServerSettings`]; alone:
//!
//! ```
//! use boost_rpc::server::AdaptiveLimitSettings;
//! use boost_rpc::server::load_shed::LoadShedLayer;
//!
//! let mut adaptive = AdaptiveLimitSettings::default();
//! adaptive.enabled = true;
//! let layer = LoadShedLayer::adaptive(&adaptive, 1024); // 1024: the ceiling
//! let state = layer.state();
//! assert!(state.adaptive);
//! assert_eq!(state.limit, 20); // `initial_limit`; it moves with latency
//! ```
//!
//! On the hot path the adaptive limit adds two clock reads and an atomic add
//! per call; the limit itself is updated once per window (`window`, 100 ms)
//! by the call that closes it, under a lock nobody waits for.
//!
//! # Metrics
//!
//! Built by [`stack`](super::stack), the layer publishes the limit in
//! `rpc_server_concurrency_limit` (a gauge, fixed or adaptive) and counts
//! refused calls in `rpc_server_shed_total`; the calls in flight are
//! `rpc_server_in_flight_calls` (by method, from the metrics layer).

mod adaptive;
pub mod future;
mod gradient;
mod settings;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use boost_metrics::conventions::{RPC_SERVER_CONCURRENCY_LIMIT, RPC_SERVER_SHED_TOTAL};
use http::{HeaderValue, Request, Response};
use metrics::{Counter, Gauge};
use tonic::Code;
use tower_layer::Layer;
use tower_service::Service;

use self::adaptive::Adaptive;
use self::future::{ResponseFuture, State};
pub use self::settings::AdaptiveLimitSettings;
pub(crate) use self::settings::ceiling_rules;
use super::body::{ObservedBody, OnEnd, response_body};
use super::grpc;
use super::settings::ServerSettings;
#[cfg(test)]
use crate::client::retry::GRPC_RETRY_PUSHBACK_MS;

/// The methods of gRPC health checking, which take a slot of their own
/// ([`MAX_PROBES`]) instead of one under the limit.
const HEALTH_METHODS: [&str; 3] = [
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.health.v1.Health/List",
];

/// Health checks answered at once, beside the limit. A probe refused because
/// the server is loaded reads as a dead server (a Kubernetes liveness probe
/// restarts it, taking its capacity away just when it is needed), so probes do
/// not compete with calls; and they cannot crowd calls out either: they take
/// none of the limit's slots, and give theirs back at the response head (a
/// `Watch` stream open for hours holds none).
pub const MAX_PROBES: usize = 32;

/// The message a shed call receives.
const OVERLOADED: &str = "server overloaded; retry later";

/// Layer that applies [`LoadShed`]. Clones share one limit.
#[derive(Clone, Debug)]
pub struct LoadShedLayer {
    slots: Arc<Slots>,
}

/// What a [`LoadShedLayer`]'s limit holds now.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct LoadShedState {
    /// Calls admitted at once, now (`usize::MAX` when there is no limit).
    pub limit: usize,
    /// Calls in flight (admitted, response body not yet ended).
    pub in_flight: usize,
    /// Whether the limit adapts ([`AdaptiveLimitSettings::enabled`]).
    pub adaptive: bool,
    /// The adaptive limit's long-term (no-load) latency; zero for a fixed
    /// limit or before its first window.
    pub long_rtt: Duration,
}

impl LoadShedLayer {
    /// At most `limit` calls in flight; `limit` is raised to 1 if it is 0.
    pub fn new(limit: usize) -> Self {
        Self::with_parts(limit.max(1), None, None)
    }

    /// An adaptive limit by `settings`, never above `ceiling` (raised to 1
    /// if it is 0) — whether or not `settings.enabled` says so. Used alone,
    /// it records no metrics.
    pub fn adaptive(settings: &AdaptiveLimitSettings, ceiling: usize) -> Self {
        Self::adaptive_with(settings, ceiling.max(1), None)
    }

    fn adaptive_with(
        settings: &AdaptiveLimitSettings,
        ceiling: usize,
        metrics: Option<ShedMetrics>,
    ) -> Self {
        let adaptive = Adaptive::new(settings, ceiling);
        let pushback = u64::try_from(settings.retry_pushback.as_millis()).unwrap_or(u64::MAX);
        let initial = adaptive.initial_limit();
        Self::with_parts(
            initial,
            Some(Extra {
                adaptive,
                pushback: HeaderValue::from(pushback),
            }),
            metrics,
        )
    }

    /// The limit `settings` describe — `concurrency_limit` (`0`: none), or
    /// the adaptive limit under it — with its metrics.
    pub(crate) fn from_settings(settings: &ServerSettings) -> Self {
        let metrics = ShedMetrics {
            shed: metrics::counter!(RPC_SERVER_SHED_TOTAL),
            // No limit, no gauge: a 0 would read as "refuses everything".
            limit: (settings.concurrency_limit != 0)
                .then(|| metrics::gauge!(RPC_SERVER_CONCURRENCY_LIMIT)),
        };
        match settings.concurrency_limit {
            0 => Self::with_parts(usize::MAX, None, Some(metrics)),
            ceiling if settings.adaptive_limit.enabled => {
                Self::adaptive_with(&settings.adaptive_limit, ceiling, Some(metrics))
            }
            limit => Self::with_parts(limit, None, Some(metrics)),
        }
    }

    fn with_parts(limit: usize, extra: Option<Extra>, metrics: Option<ShedMetrics>) -> Self {
        if let Some(gauge) = metrics.as_ref().and_then(|m| m.limit.as_ref()) {
            gauge.set(limit as f64);
        }
        LoadShedLayer {
            slots: Arc::new(Slots {
                limit: AtomicUsize::new(limit),
                taken: AtomicUsize::new(0),
                probes: AtomicUsize::new(0),
                adaptive: extra,
                metrics,
            }),
        }
    }

    /// Slots free right now.
    pub fn available(&self) -> usize {
        self.slots
            .limit
            .load(Ordering::Relaxed)
            .saturating_sub(self.slots.taken.load(Ordering::Relaxed))
    }

    /// The limit and the calls in flight now.
    pub fn state(&self) -> LoadShedState {
        let slots = &self.slots;
        LoadShedState {
            limit: slots.limit.load(Ordering::Relaxed),
            in_flight: slots.taken.load(Ordering::Relaxed),
            adaptive: slots.adaptive.is_some(),
            long_rtt: slots
                .adaptive
                .as_ref()
                .map(|extra| extra.adaptive.rtts().long)
                .unwrap_or_default(),
        }
    }
}

/// The metrics of a server's limit.
#[derive(Debug)]
struct ShedMetrics {
    shed: Counter,
    limit: Option<Gauge>,
}

/// What an adaptive limit adds to the counter.
#[derive(Debug)]
struct Extra {
    adaptive: Adaptive,
    /// `grpc-retry-pushback-ms` of a shed gRPC call.
    pushback: HeaderValue,
}

/// The shared count of calls in flight. A plain counter, not a semaphore:
/// nobody ever waits for a slot, so there is no queue to manage. A fixed
/// limit never changes `limit`; an adaptive one stores a new one per window.
#[derive(Debug)]
struct Slots {
    limit: AtomicUsize,
    taken: AtomicUsize,
    /// Health checks being answered ([`MAX_PROBES`] at most).
    probes: AtomicUsize,
    adaptive: Option<Extra>,
    metrics: Option<ShedMetrics>,
}

impl Slots {
    #[inline]
    fn try_take(self: &Arc<Self>) -> Option<Slot> {
        let limit = self.limit.load(Ordering::Relaxed);
        let mut taken = self.taken.load(Ordering::Relaxed);
        loop {
            if taken >= limit {
                return None;
            }
            match self.taken.compare_exchange_weak(
                taken,
                taken + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    let started = self.adaptive.as_ref().map(|extra| {
                        extra.adaptive.admitted(taken + 1);
                        Instant::now()
                    });
                    return Some(Slot {
                        slots: self.clone(),
                        started,
                        probe: false,
                    });
                }
                Err(now) => taken = now,
            }
        }
    }

    /// A health check's slot, beside the limit ([`MAX_PROBES`]); `None` when
    /// that many are being answered.
    #[cold]
    fn take_probe(self: &Arc<Self>) -> Option<Slot> {
        let taken = self.probes.fetch_add(1, Ordering::Acquire);
        if taken >= MAX_PROBES {
            self.probes.fetch_sub(1, Ordering::Release);
            return None;
        }
        Some(Slot {
            slots: self.clone(),
            started: None,
            probe: true,
        })
    }

    /// Counts a shed call.
    #[cold]
    fn shed(&self) -> Option<HeaderValue> {
        if let Some(metrics) = &self.metrics {
            metrics.shed.increment(1);
        }
        self.adaptive.as_ref().map(|extra| extra.pushback.clone())
    }

    /// An admitted call admitted at `started` answered: one latency sample.
    /// Out of line: the fixed limit's calls never come here, and their slot's
    /// drop stays a check and a decrement.
    #[inline(never)]
    fn answered(&self, started: Instant) {
        let Some(extra) = &self.adaptive else {
            return;
        };
        let in_flight = self.taken.load(Ordering::Relaxed);
        let now = Instant::now();
        if let Some(limit) = extra.adaptive.record(started, now, in_flight, &self.limit)
            && let Some(gauge) = self.metrics.as_ref().and_then(|m| m.limit.as_ref())
        {
            gauge.set(limit as f64);
        }
    }
}

/// One call's slot under the concurrency limit, given back when dropped
/// (when the response body ends).
#[derive(Debug)]
struct Slot {
    slots: Arc<Slots>,
    /// When the call was admitted, while its latency is still to be taken
    /// (an adaptive limit's call before its response head).
    started: Option<Instant>,
    /// A health check's slot (beside the limit), not a call's.
    probe: bool,
}

impl Slot {
    /// Whether the slot is given back at the response head rather than when
    /// the body ends: under an adaptive limit. What it bounds is the work
    /// that latency measures — a unary call's whole run (tonic answers when
    /// the handler returns), a streaming call's start — so a watch stream
    /// open for an hour does not take a slot for an hour and get new calls
    /// shed. A fixed limit holds the slot until the body ends, as before.
    #[inline]
    fn released_at_head(&self) -> bool {
        self.probe || self.slots.adaptive.is_some()
    }

    /// The call's response head is ready: its latency is one sample.
    #[inline]
    fn answered(&mut self) {
        if let Some(started) = self.started.take() {
            self.slots.answered(started);
        }
    }
}

response_body! {
    /// The response body of [`LoadShed`]: the handler's body, unchanged; the
    /// call's slot is given back when it ends or is dropped.
    ResponseBody => ObservedBody<B, Slot>
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Dropped before its answer (the client went away, often on its
        // deadline): the time it waited is still a sample — at least that
        // long — so an overload that makes callers give up is seen.
        if self.probe {
            self.slots.probes.fetch_sub(1, Ordering::Release);
            return;
        }
        self.answered();
        self.slots.taken.fetch_sub(1, Ordering::Release);
    }
}

impl OnEnd for Slot {
    // A slot only needs to know when the call ends, not how.
    const NEEDS_CODE: bool = false;

    fn on_end(self, _code: Code) {}
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoadShed {
            inner,
            slots: self.slots.clone(),
        }
    }
}

/// Refuses calls beyond the concurrency limit with `RESOURCE_EXHAUSTED`.
#[derive(Clone, Debug)]
pub struct LoadShed<S> {
    inner: S,
    slots: Arc<Slots>,
}

impl<S> LoadShed<S> {
    /// Wraps `inner` with a limit of `limit` calls in flight.
    pub fn new(inner: S, limit: usize) -> Self {
        LoadShedLayer::new(limit).layer(inner)
    }
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for LoadShed<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
    ResBody: Default,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let path = req.uri().path();
        let slot = if path.starts_with("/grpc.health.v1.Health/") && HEALTH_METHODS.contains(&path)
        {
            self.slots.take_probe()
        } else {
            self.slots.try_take()
        };
        match slot {
            Some(permit) => ResponseFuture {
                state: State::Admitted {
                    inner: self.inner.call(req),
                    permit: Some(permit),
                },
            },
            None => {
                let pushback = self.slots.shed();
                tracing::debug!(
                    method = grpc::method_of(&req),
                    limit = self.slots.limit.load(Ordering::Relaxed),
                    "shedding call: concurrency limit reached"
                );
                ResponseFuture {
                    state: State::Shed {
                        grpc: grpc::is_grpc(&req),
                        pushback,
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Empty;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use prost::bytes::Bytes;
    use tower::ServiceExt;

    type Answer = Response<ResponseBody<Empty<Bytes>>>;

    /// Calls a handler that answers at once under `layer`; the answer holds
    /// its slot until dropped.
    fn call(layer: &LoadShedLayer, grpc: bool) -> Answer {
        call_path(layer, grpc, "/hello.v1.Greeter/SayHello")
    }

    fn call_path(layer: &LoadShedLayer, grpc: bool, path: &str) -> Answer {
        let svc = layer.layer(tower::service_fn(|_req: Request<()>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Empty::<Bytes>::new()))
        }));
        let mut req = Request::post(path).body(()).unwrap();
        if grpc {
            req.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/grpc"));
        }
        futures::executor::block_on(svc.oneshot(req)).unwrap()
    }

    /// A call whose handler has not answered: under an adaptive limit that is
    /// what holds a slot (it is given back at the response head).
    fn pending(layer: &LoadShedLayer, path: &str) -> impl std::future::Future + use<> {
        let mut svc = layer.layer(tower::service_fn(|_req: Request<()>| {
            std::future::pending::<Result<Response<Empty<Bytes>>, std::convert::Infallible>>()
        }));
        let mut req = Request::post(path).body(()).unwrap();
        req.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/grpc"));
        svc.call(req)
    }

    fn values(recorder: &DebuggingRecorder) -> Vec<(String, String)> {
        let mut seen: Vec<_> = recorder
            .snapshotter()
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let value = match value {
                    DebugValue::Counter(n) => n.to_string(),
                    DebugValue::Gauge(g) => g.into_inner().to_string(),
                    DebugValue::Histogram(_) => "histogram".to_owned(),
                };
                (key.key().name().to_owned(), value)
            })
            .collect();
        seen.sort();
        seen
    }

    #[test]
    fn a_fixed_limit_sheds_without_pushback_and_counts_it() {
        let recorder = DebuggingRecorder::new();
        let settings = ServerSettings {
            concurrency_limit: 2,
            ..ServerSettings::default()
        };
        let layer =
            metrics::with_local_recorder(&recorder, || LoadShedLayer::from_settings(&settings));
        let held = [call(&layer, true), call(&layer, true)];
        assert_eq!(layer.state().in_flight, 2);
        let shed = call(&layer, true);
        assert_eq!(
            crate::status_code::grpc_status(shed.headers()),
            Some(Code::ResourceExhausted)
        );
        assert!(
            !shed.headers().contains_key(GRPC_RETRY_PUSHBACK_MS),
            "as before"
        );
        let http = call(&layer, false);
        assert_eq!(http.status(), http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            values(&recorder),
            [
                (RPC_SERVER_CONCURRENCY_LIMIT.to_owned(), "2".to_owned()),
                (RPC_SERVER_SHED_TOTAL.to_owned(), "2".to_owned()),
            ]
        );
        drop(held);
        assert_eq!(layer.state().in_flight, 0);
        assert_eq!(layer.available(), 2);
    }

    #[test]
    fn an_adaptive_limit_starts_at_its_initial_limit_and_sheds_with_pushback() {
        let recorder = DebuggingRecorder::new();
        let mut settings = ServerSettings::default();
        settings.adaptive_limit.enabled = true;
        settings.adaptive_limit.initial_limit = 1;
        settings.adaptive_limit.min_limit = 1;
        settings.adaptive_limit.retry_pushback = Duration::from_millis(250);
        let layer =
            metrics::with_local_recorder(&recorder, || LoadShedLayer::from_settings(&settings));
        let state = layer.state();
        assert!(state.adaptive);
        assert_eq!(state.limit, 1);
        let held = pending(&layer, "/hello.v1.Greeter/SayHello");
        let shed = call(&layer, true);
        assert_eq!(shed.headers()[GRPC_RETRY_PUSHBACK_MS], "250");
        assert!(
            !call(&layer, false)
                .headers()
                .contains_key(GRPC_RETRY_PUSHBACK_MS),
            "a gRPC header, for gRPC calls"
        );
        drop(held);
        assert_eq!(
            values(&recorder),
            [
                (RPC_SERVER_CONCURRENCY_LIMIT.to_owned(), "1".to_owned()),
                (RPC_SERVER_SHED_TOTAL.to_owned(), "2".to_owned()),
            ]
        );
    }

    #[test]
    fn health_checks_take_their_own_slots_under_either_limit_and_never_crowd_calls_out() {
        let settings = AdaptiveLimitSettings {
            enabled: true,
            initial_limit: 1,
            min_limit: 1,
            ..AdaptiveLimitSettings::default()
        };
        let check = "/grpc.health.v1.Health/Check";
        for layer in [
            LoadShedLayer::adaptive(&settings, 10),
            LoadShedLayer::new(1),
        ] {
            // The limit full: a probe is still answered.
            let held = pending(&layer, "/hello.v1.Greeter/SayHello");
            assert_eq!(
                crate::status_code::grpc_status(call_path(&layer, true, check).headers()),
                None
            );
            drop(held);
            // Stalled probes and open Watch streams take none of the limit.
            let stalled: Vec<_> = (0..MAX_PROBES).map(|_| pending(&layer, check)).collect();
            let watches: Vec<_> = (0..5)
                .map(|_| call_path(&layer, true, "/grpc.health.v1.Health/Watch"))
                .collect();
            assert_eq!(layer.state().in_flight, 0, "probes are beside the limit");
            let call = call(&layer, true);
            assert_eq!(
                crate::status_code::grpc_status(call.headers()),
                None,
                "admitted"
            );
            // Past MAX_PROBES in flight, a probe is refused; the limit is not touched.
            assert_eq!(
                crate::status_code::grpc_status(call_path(&layer, true, check).headers()),
                Some(Code::ResourceExhausted)
            );
            drop((stalled, watches, call));
            assert_eq!(
                crate::status_code::grpc_status(call_path(&layer, true, check).headers()),
                None
            );
        }
        // Only the health methods: another path under the prefix is a call.
        let fixed = LoadShedLayer::new(1);
        let _held = pending(&fixed, "/hello.v1.Greeter/SayHello");
        assert_eq!(
            crate::status_code::grpc_status(
                call_path(&fixed, true, "/grpc.health.v1.Health/Other").headers()
            ),
            Some(Code::ResourceExhausted)
        );
    }

    #[test]
    fn a_call_dropped_before_its_answer_is_still_a_sample() {
        let settings = AdaptiveLimitSettings {
            enabled: true,
            window: Duration::from_millis(10),
            window_samples: 1,
            ..AdaptiveLimitSettings::default()
        };
        let layer = LoadShedLayer::adaptive(&settings, 100);
        let mut svc = layer.layer(tower::service_fn(|_req: Request<()>| {
            std::future::pending::<Result<Response<Empty<Bytes>>, std::convert::Infallible>>()
        }));
        let req = Request::post("/hello.v1.Greeter/SayHello")
            .body(())
            .unwrap();
        let never = svc.call(req);
        assert_eq!(layer.state().in_flight, 1);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(layer.state().long_rtt, Duration::ZERO, "no window yet");
        drop(never); // the client went away
        let state = layer.state();
        assert_eq!(state.in_flight, 0);
        assert!(state.long_rtt >= Duration::from_millis(30), "{state:?}");
    }

    #[test]
    fn no_limit_admits_everything_and_publishes_no_limit() {
        let recorder = DebuggingRecorder::new();
        let settings = ServerSettings {
            concurrency_limit: 0,
            ..ServerSettings::default()
        };
        let layer =
            metrics::with_local_recorder(&recorder, || LoadShedLayer::from_settings(&settings));
        let held: Vec<_> = (0..100).map(|_| call(&layer, true)).collect();
        assert!(
            held.iter()
                .all(|r| r.headers().get("grpc-status").is_none())
        );
        assert!(
            values(&recorder)
                .iter()
                .all(|(name, _)| name != RPC_SERVER_CONCURRENCY_LIMIT)
        );
    }

    /// A streaming answer's body outlives its head: under an adaptive limit
    /// its slot is back at the head, so open streams never fill the limit;
    /// a fixed limit holds it until the body ends, as before.
    #[test]
    fn an_adaptive_limit_gives_a_slot_back_at_the_head_and_a_fixed_one_at_the_end() {
        let settings = AdaptiveLimitSettings {
            enabled: true,
            initial_limit: 2,
            min_limit: 2,
            ..AdaptiveLimitSettings::default()
        };
        let adaptive = LoadShedLayer::adaptive(&settings, 10);
        let streams: Vec<_> = (0..5).map(|_| call(&adaptive, true)).collect();
        assert_eq!(adaptive.state().in_flight, 0, "answered: no slot held");
        let next = call(&adaptive, true);
        assert_eq!(
            crate::status_code::grpc_status(next.headers()),
            None,
            "admitted"
        );
        drop(streams);

        let fixed = LoadShedLayer::new(2);
        let streams: Vec<_> = (0..2).map(|_| call(&fixed, true)).collect();
        assert_eq!(fixed.state().in_flight, 2, "held until the bodies end");
        let shed = call(&fixed, true);
        assert_eq!(
            crate::status_code::grpc_status(shed.headers()),
            Some(Code::ResourceExhausted)
        );
        drop(streams);
        assert_eq!(fixed.state().in_flight, 0);
    }
}
