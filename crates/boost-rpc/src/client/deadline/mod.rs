//! Deadlines: one total time budget per call, sent to every attempt as
//! `grpc-timeout` with the time *remaining*.
//!
//! The deadline of a call is the earliest of
//! - now + [`CallOptions::timeout`](super::CallOptions) if the call set one,
//!   else now + the client's timeout ([`DeadlineLayer::new`]),
//! - now + the `grpc-timeout` the caller set (`tonic::Request::set_timeout`),
//! - the deadline of the inbound call being served ([`crate::deadline::current`]),
//!   so a deadline shrinks across hops and never grows.
//!
//! An already expired deadline fails with DEADLINE_EXCEEDED without sending.
//! The deadline travels with the request (an extension), so the
//! [`retry`](super::retry) layer re-stamps `grpc-timeout` before each attempt
//! and the [`limit`](super::limit) and [`balance`](super::balance) layers
//! bound their waits by it.
//!
//! [`DeadlineLayer::new`] also runs a timer over the whole call, so it bounds
//! any inner service. The client stack uses
//! [`DeadlineLayer::transport_enforced`] instead: tonic's `Channel` already
//! runs a timer for each attempt from the `grpc-timeout` it sends, and every
//! other wait in the stack checks the deadline, so a second timer per call
//! would only cost (a timer is one of the largest per-call costs measured).
//!
//! ```
//! use std::time::Duration;
//! use boost_rpc::client::deadline::DeadlineLayer;
//! use tower::Layer;
//!
//! # async fn demo() {
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50052").connect_lazy();
//! let bounded = DeadlineLayer::new(Duration::from_millis(300)).layer(channel);
//! # let _ = bounded;
//! # }
//! ```

pub mod future;

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::header::Entry;
use http::{HeaderMap, HeaderValue, Request, Response};
use tower::{Layer, Service};

use super::CallOptions;
use crate::RpcError;
use crate::grpc_timeout;
use crate::status_code::grpc_status;

use self::future::ResponseFuture;

/// The deadline of the current call, as a request extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallDeadline(pub(crate) Instant);

impl CallDeadline {
    /// Writes the time left as `grpc-timeout`; `false` when none is left.
    pub(crate) fn stamp(self, headers: &mut HeaderMap) -> bool {
        self.stamp_at(headers, Instant::now())
    }

    /// [`stamp`](Self::stamp) with the time already read (one clock read per call).
    fn stamp_at(self, headers: &mut HeaderMap, now: Instant) -> bool {
        match self.left_at(now) {
            Left::None => false,
            Left::Value(value) => {
                headers.insert(grpc_timeout::HEADER, value);
                true
            }
            Left::Unwritable => true,
        }
    }

    /// The `grpc-timeout` value for the time left at `now`.
    fn left_at(self, now: Instant) -> Left {
        let left = self.0.saturating_duration_since(now);
        if left.is_zero() {
            return Left::None;
        }
        let mut buf = [0u8; grpc_timeout::MAX_LEN];
        match HeaderValue::from_bytes(grpc_timeout::encode(left, &mut buf)) {
            Ok(mut value) => {
                // Never-indexed: a value that differs on every call would only
                // churn the HPACK tables of both ends.
                value.set_sensitive(true);
                Left::Value(value)
            }
            Err(_) => Left::Unwritable,
        }
    }
}

/// The time a call has left, as [`CallDeadline::left_at`] renders it.
enum Left {
    /// None: the deadline has passed.
    None,
    /// This much, as a `grpc-timeout` value.
    Value(HeaderValue),
    /// Some, but not renderable (never for values `grpc_timeout::encode`
    /// makes): sent without a `grpc-timeout` of ours, as before.
    Unwritable,
}

/// The `grpc-timeout` value of an attempt sent with the whole `timeout` left,
/// formatted once per distinct timeout and shared (no allocation per call).
///
/// Unlike the time left after a retry or under an inbound deadline, which
/// differs on every call and is sent never-indexed, this value repeats call
/// after call: it is sent indexable, so HPACK shrinks it to one byte after the
/// first call on a connection and the server decodes an index instead of a
/// literal. At most 64 distinct timeouts are kept (settings give a handful);
/// beyond that, values are formatted per call as before.
fn whole_timeout_value(timeout: Duration) -> Option<HeaderValue> {
    static KNOWN: std::sync::Mutex<Vec<(Duration, &'static str)>> =
        std::sync::Mutex::new(Vec::new());
    let mut known = KNOWN.lock().ok()?;
    let text = match known.iter().find(|(d, _)| *d == timeout) {
        Some((_, text)) => *text,
        None if known.len() < 64 => {
            let text: &'static str = Box::leak(grpc_timeout::format(timeout).into_boxed_str());
            known.push((timeout, text));
            text
        }
        None => return None,
    };
    HeaderValue::from_maybe_shared(tonic::codegen::Bytes::from_static(text.as_bytes())).ok()
}

/// The call's own timeout: its [`CallOptions::timeout`], else `timeout`.
fn call_timeout<B>(request: &Request<B>, timeout: Duration) -> Duration {
    request
        .extensions()
        .get::<CallOptions>()
        .and_then(|o| o.timeout)
        .unwrap_or(timeout)
}

/// The earliest deadline for a call starting `now` (see the module docs):
/// now + `timeout`, now + the `grpc-timeout` the caller set (`callers`) and
/// the inbound call's deadline.
fn earliest(timeout: Duration, callers: Option<Duration>, now: Instant) -> Instant {
    let mut deadline = crate::deadline::after(now, timeout);
    if let Some(t) = callers {
        deadline = deadline.min(crate::deadline::after(now, t));
    }
    if let Some(inbound) = crate::deadline::current() {
        deadline = deadline.min(inbound);
    }
    deadline
}

/// Applies a total deadline to each call. See the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    timeout: Duration,
    timer: bool,
}

impl DeadlineLayer {
    /// Calls get `timeout` in total unless something gives them less.
    pub const fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            timer: true,
        }
    }

    /// Like [`new`](Self::new), but without a timer of its own: for stacks
    /// whose every wait is already bounded — each attempt by the transport
    /// enforcing `grpc-timeout` (tonic's `Channel` does, answering
    /// DEADLINE_EXCEEDED), backoff and queueing by the deadline checks of the
    /// retry, limit and balance layers. One timer fewer per call; this is
    /// what a [`Client`](crate::client::Client) uses.
    pub const fn transport_enforced(timeout: Duration) -> Self {
        Self {
            timeout,
            timer: false,
        }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;
    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline {
            inner,
            timeout: self.timeout,
            timer: self.timer,
            whole: whole_timeout_value(self.timeout),
        }
    }
}

/// The service [`DeadlineLayer`] builds.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    timeout: Duration,
    timer: bool,
    /// `grpc-timeout` for an attempt with the whole `timeout` left.
    whole: Option<HeaderValue>,
}

impl<S> Deadline<S> {
    /// Wraps `inner` with a total `timeout` per call.
    pub fn new(inner: S, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            timer: true,
            whole: whole_timeout_value(timeout),
        }
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

/// tonic servers answer CANCELLED when the `grpc-timeout` they were sent
/// passes, a moment before our own timer fires: that is our deadline.
fn cancelled_at_deadline<R>(response: &Response<R>, deadline: Instant, budget: Duration) -> bool {
    grpc_status(response.headers()) == Some(tonic::Code::Cancelled)
        && deadline.saturating_duration_since(Instant::now())
            <= (budget / 10).max(Duration::from_millis(5))
}

impl<S, B, R> Service<Request<B>> for Deadline<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = RpcError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| RpcError::from_boxed(e.into()))
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let now = super::call_now();
        let timeout = call_timeout(&request, self.timeout);
        // One hashed lookup of `grpc-timeout`: read the caller's, then replace it.
        let sent = request.headers_mut().entry(grpc_timeout::HEADER);
        let callers = match &sent {
            Entry::Occupied(value) => grpc_timeout::parse(value.get().as_bytes()),
            Entry::Vacant(_) => None,
        };
        let deadline = earliest(timeout, callers, now);
        let call = CallDeadline(deadline);
        let whole = (self.whole.as_ref())
            .filter(|_| deadline.saturating_duration_since(now) == self.timeout);
        let left = match whole {
            // The common case: nothing shortened the call's own timeout.
            Some(value) => Left::Value(value.clone()),
            None => call.left_at(now),
        };
        match (left, sent) {
            (Left::Value(value), Entry::Occupied(mut old)) => {
                old.insert(value);
            }
            (Left::Value(value), Entry::Vacant(slot)) => {
                slot.insert(value);
            }
            (Left::Unwritable, _) => {}
            (Left::None, _) => {
                let why = match crate::deadline::current() {
                    Some(d) if d <= now => "the inbound call's deadline had already passed",
                    _ => "the deadline had already passed",
                };
                return ResponseFuture {
                    inner: None,
                    sleep: None,
                    timer: false,
                    failed: Some(RpcError::deadline_exceeded(format!("not sent: {why}"))),
                    deadline,
                    budget: Duration::ZERO,
                };
            }
        }
        request.extensions_mut().insert(call);
        ResponseFuture {
            inner: Some(self.inner.call(request)),
            sleep: None,
            timer: self.timer,
            failed: None,
            deadline,
            budget: deadline - now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `grpc-timeout` that `layer` sends for `request`.
    async fn sent_grpc_timeout(layer: DeadlineLayer, request: Request<()>) -> HeaderValue {
        use tower::ServiceExt;
        let echo = tower::service_fn(|request: Request<()>| async move {
            Ok::<_, RpcError>(Response::new(
                request.headers().get(&grpc_timeout::HEADER).cloned(),
            ))
        });
        let response = layer.layer(echo).oneshot(request).await.unwrap();
        response.into_body().expect("grpc-timeout was sent")
    }

    #[test]
    fn a_timeout_too_large_for_instant_means_far_away_not_a_panic() {
        let now = Instant::now();
        let mut request = Request::new(());
        request
            .extensions_mut()
            .insert(CallOptions::new().timeout(Duration::MAX));
        let far = earliest(
            call_timeout(&request, Duration::from_millis(300)),
            None,
            now,
        );
        assert!(far > now + Duration::from_secs(365 * 24 * 3600));
        let far = earliest(Duration::MAX, None, now);
        assert!(far > now + Duration::from_secs(365 * 24 * 3600));
        // A caller's huge `grpc-timeout` leaves the call's own timeout in charge.
        let own = earliest(Duration::from_millis(300), Some(Duration::MAX), now);
        assert_eq!(own, now + Duration::from_millis(300));
        let far = earliest(Duration::MAX, Some(Duration::MAX), now);
        assert!(far > now + Duration::from_secs(365 * 24 * 3600));
    }

    #[tokio::test]
    async fn the_layer_alone_times_out_a_slow_service_and_stamps_grpc_timeout() {
        use tower::ServiceExt;
        let slow = tower::service_fn(|request: Request<()>| async move {
            let sent = request.headers().get(&grpc_timeout::HEADER).cloned();
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, RpcError>(Response::new(sent))
        });
        let started = Instant::now();
        let err = DeadlineLayer::new(Duration::from_millis(50))
            .layer(slow)
            .oneshot(Request::new(()))
            .await
            .unwrap_err();
        assert!(err.is_deadline());
        assert!(started.elapsed() < Duration::from_secs(2));

        let sent = sent_grpc_timeout(
            DeadlineLayer::transport_enforced(Duration::from_millis(50)),
            Request::new(()),
        )
        .await;
        let sent = grpc_timeout::parse(sent.as_bytes()).unwrap();
        assert!(sent <= Duration::from_millis(50) && sent > Duration::from_millis(40));
    }

    #[tokio::test]
    async fn the_whole_timeout_is_sent_indexable_a_shortened_one_never_indexed() {
        let layer = DeadlineLayer::transport_enforced(Duration::from_millis(300));
        let sent = sent_grpc_timeout(layer, Request::new(())).await;
        // The same value on every call: HPACK may index it.
        assert_eq!(sent, "300000u");
        assert!(!sent.is_sensitive());

        let mut request = Request::new(());
        request.extensions_mut().insert(CallOptions {
            timeout: Some(Duration::from_millis(123)),
            ..CallOptions::default()
        });
        let sent = sent_grpc_timeout(layer, request).await;
        assert_eq!(sent, "123000u");
        assert!(sent.is_sensitive(), "values that vary are never indexed");
    }
}
