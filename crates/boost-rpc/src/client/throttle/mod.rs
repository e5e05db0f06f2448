//! Client-side throttling (the SRE book's "adaptive throttling"): when the
//! upstream keeps refusing calls, refuse some locally instead of sending
//! traffic that cannot succeed.
//!
//! Over a sliding window (`throttle.window`, default 10 s) the client counts
//! `requests` it sent and `accepts`, the requests the upstream took. A call
//! is rejected locally, before it is sent, with probability
//!
//! ```text
//! max(0, (requests − K·accepts) / (requests + 1))
//! ```
//!
//! with `K = throttle.k` (default 2). A healthy upstream accepts everything
//! and the probability is 0; one that refuses 80% of what it gets settles at
//! about `K × its acceptance rate` of the demand; one that recovers brings
//! the probability back to 0 as soon as accepts are half the window's
//! requests, in seconds, with no fixed "open" period to sit out.
//!
//! Two choices differ from the book and from go-zero's and Kratos' breakers,
//! after their users' most common complaints:
//! - **Local rejections are not counted** as requests: the window holds only
//!   what the upstream answered, so the throttle never feeds on its own
//!   refusals and stays open after the upstream recovered.
//! - **What counts as a refusal**: `UNAVAILABLE`, `RESOURCE_EXHAUSTED`,
//!   `INTERNAL`, `UNKNOWN`, `DATA_LOSS` — the upstream (or every endpoint of
//!   it) could not take the call — and `DEADLINE_EXCEEDED` (or `CANCELLED`,
//!   tonic's server's answer to a passed `grpc-timeout`) only when the call
//!   had at least the client's whole `timeout` (a caller's short deadline is
//!   not the upstream's fault). Any other status is an answer the upstream
//!   gave: `NOT_FOUND` or `INVALID_ARGUMENT` are accepts. Calls that never
//!   reached the upstream (a failed connect, an ejected endpoint, no
//!   endpoint at all) are not counted: [`eject`](super::eject) and the
//!   reconnect backoff already fail those fast, and counting them would keep
//!   a returning upstream throttled after it is back.
//!
//! Below `throttle.min_requests` requests in the window (default 20) nothing
//! is rejected, so a quiet client is not throttled by a couple of failures.
//! A locally rejected call fails at once with `UNAVAILABLE` (never sent,
//! not retried) and counts in `rpc_client_throttled_total{client}`; the
//! probability is the `rpc_client_throttle_ratio{client}` gauge and
//! [`Client::throttle`](super::Client::throttle).
//!
//! The decision reads one cached word while the upstream is healthy (no
//! lock, no random draw); see `window` for how the counts are kept.
//!
//! ```
//! use std::time::Duration;
//! use boost_rpc::client::ThrottleSettings;
//! use boost_rpc::client::throttle::ThrottleLayer;
//! use tower::Layer;
//!
//! # async fn demo() {
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50052").connect_lazy();
//! let throttled = ThrottleLayer::new(&ThrottleSettings::default(), Duration::from_millis(300))
//!     .layer(channel);
//! # let _ = throttled;
//! # }
//! ```

pub mod future;
mod window;

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Request, Response};
use metrics::{Counter, Gauge};
use rand::Rng;
use tonic::Code;
use tower::{Layer, Service};

use self::future::ResponseFuture;
use self::window::Window;
use super::deadline::CallDeadline;
use super::settings::ThrottleSettings;
use crate::RpcError;

/// What a client's throttle holds now ([`Client::throttle`](super::Client::throttle)).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ThrottleState {
    /// Whether throttling is on (`throttle.enabled`).
    pub enabled: bool,
    /// Requests the upstream answered in the window.
    pub requests: u64,
    /// Of those, the ones it accepted.
    pub accepts: u64,
    /// The probability that the next call is rejected locally, 0 to < 1.
    pub probability: f64,
}

impl ThrottleState {
    /// A client with no throttle (one that replays a tape): nothing counted,
    /// nothing rejected.
    pub const OFF: Self = Self {
        enabled: false,
        requests: 0,
        accepts: 0,
        probability: 0.0,
    };
}

/// The throttle shared by every service a [`ThrottleLayer`] builds.
#[derive(Debug)]
pub(crate) struct Throttle {
    enabled: bool,
    window: Window,
    timeout: Duration,
    throttled: Option<Counter>,
    probability: Option<Gauge>,
}

impl Throttle {
    /// What the throttle holds at `now`.
    pub(crate) fn state(&self, now: Instant) -> ThrottleState {
        let totals = self.window.totals(now);
        ThrottleState {
            enabled: self.enabled,
            requests: totals.requests,
            accepts: totals.accepts,
            probability: if self.enabled {
                self.window.probability(now)
            } else {
                0.0
            },
        }
    }

    /// Whether the call starting at `now` is rejected locally.
    fn rejects(&self, now: Instant) -> Option<f64> {
        if !self.enabled {
            return None;
        }
        let p = self.window.probability(now);
        (p > 0.0 && rand::rng().random::<f64>() < p).then_some(p)
    }

    /// Counts the upstream's answer to a call sent at `sent_at`.
    fn record(&self, sent_at: Instant, accepted: bool) {
        // Failures are rare on a healthy upstream: their clock read is
        // affordable; a success counts in the bucket of its sending.
        let now = if accepted { sent_at } else { Instant::now() };
        let before = self.window.probability(now);
        self.window.record(now, accepted);
        if let Some(gauge) = &self.probability {
            let after = self.window.probability(now);
            if after != before || !accepted {
                gauge.set(after);
            }
        }
    }
}

/// Whether an answer with `code` says the upstream could not take the call.
/// `full_budget`: the call had at least the client's whole timeout.
pub(crate) fn is_refusal(code: Code, full_budget: bool) -> bool {
    match code {
        Code::Unavailable
        | Code::ResourceExhausted
        | Code::Internal
        | Code::Unknown
        | Code::DataLoss => true,
        // tonic's server answers a passed `grpc-timeout` with CANCELLED.
        Code::DeadlineExceeded | Code::Cancelled => full_budget,
        _ => false,
    }
}

/// Throttles calls to an upstream that keeps refusing them. See the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct ThrottleLayer {
    throttle: Arc<Throttle>,
}

impl ThrottleLayer {
    /// A throttle by `settings`, for a client whose calls get `timeout`
    /// (to tell the upstream's timeouts from a caller's short deadline).
    /// Used alone, it records no metrics.
    pub fn new(settings: &ThrottleSettings, timeout: Duration) -> Self {
        Self::with_metrics(settings, timeout, None)
    }

    /// A throttle counting its rejections in `throttled` and publishing its
    /// probability in `probability` (a client's).
    pub(crate) fn with_metrics(
        settings: &ThrottleSettings,
        timeout: Duration,
        metrics: Option<(Counter, Gauge)>,
    ) -> Self {
        let (throttled, probability) = metrics.unzip();
        Self {
            throttle: Arc::new(Throttle {
                enabled: settings.enabled,
                window: Window::new(settings.window, settings.k, settings.min_requests),
                timeout,
                throttled,
                probability,
            }),
        }
    }
}

impl<S> Layer<S> for ThrottleLayer {
    type Service = ThrottleService<S>;
    fn layer(&self, inner: S) -> ThrottleService<S> {
        ThrottleService {
            inner,
            throttle: self.throttle.clone(),
        }
    }
}

/// The service [`ThrottleLayer`] builds.
#[derive(Debug, Clone)]
pub struct ThrottleService<S> {
    inner: S,
    throttle: Arc<Throttle>,
}

impl<S> ThrottleService<S> {
    /// What the throttle holds now.
    pub fn state(&self) -> ThrottleState {
        self.throttle.state(Instant::now())
    }
    /// The throttle itself (shared by every service of the same layer).
    pub(crate) fn throttle(&self) -> &Arc<Throttle> {
        &self.throttle
    }
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, R> Service<Request<B>> for ThrottleService<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<R>;
    type Error = RpcError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| RpcError::from_boxed(e.into()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let now = super::call_now();
        if let Some(p) = self.throttle.rejects(now) {
            if let Some(counter) = &self.throttle.throttled {
                counter.increment(1);
            }
            return ResponseFuture::rejected(RpcError::unavailable_unsent(format!(
                "client-side throttling: the upstream refused most recent calls, so {:.0}% \
                 of calls are not sent until it accepts again; not sent",
                p * 100.0
            )));
        }
        let full_budget = request
            .extensions()
            .get::<CallDeadline>()
            .is_none_or(|d| d.0 >= now + self.throttle.timeout);
        ResponseFuture::sent(
            self.inner.call(request),
            self.throttle.clone(),
            now,
            full_budget,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_the_upstream_gave_are_accepts() {
        for code in [
            Code::Ok,
            Code::NotFound,
            Code::InvalidArgument,
            Code::PermissionDenied,
        ] {
            assert!(!is_refusal(code, true), "{code:?}");
        }
        for code in [Code::Unavailable, Code::ResourceExhausted, Code::Internal] {
            assert!(is_refusal(code, false), "{code:?}");
        }
        assert!(is_refusal(Code::DeadlineExceeded, true));
        assert!(
            !is_refusal(Code::DeadlineExceeded, false),
            "a caller's short deadline"
        );
    }
}
