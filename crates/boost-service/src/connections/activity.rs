//! [`Activity`]: what a connection's idle and header-read timers need to know —
//! whether a request has arrived, and whether one is in flight — and the tower
//! layer that tells them, for servers (tonic's) that do not hand out their
//! per-connection service.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body::{Body, Frame, SizeHint};
use tonic::transport::server::TcpConnectInfo;

/// One connection's requests: begun, in flight, and since when it has been idle.
#[derive(Debug)]
pub(crate) struct Activity {
    accepted: Instant,
    /// Admitted from the probe reserve: serves health checks only.
    probe_only: bool,
    started: AtomicBool,
    in_flight: AtomicUsize,
    /// Milliseconds after `accepted` when `in_flight` last dropped to zero.
    idle_since_ms: AtomicU64,
    /// 1 + milliseconds after `accepted` when bytes of the next HTTP/1
    /// request head began to arrive; 0 while none has.
    head_started_ms: AtomicU64,
}

/// When a connection's timer should next look, or why it closes now.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Recheck(Instant),
    Close(&'static str),
}

impl Activity {
    pub(crate) fn new(probe_only: bool) -> Arc<Self> {
        Arc::new(Self {
            accepted: Instant::now(),
            probe_only,
            started: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(0),
        })
    }

    /// Bytes arrived (HTTP/1): with no request in flight they start the next
    /// request's head, which then has `header_read_timeout` to complete.
    pub(crate) fn bytes_arrived(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.head_started_ms.load(Ordering::Acquire) == 0
        {
            let at = self.elapsed_ms().saturating_add(1);
            self.head_started_ms.store(at, Ordering::Release);
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at_ms(&self, ms: u64) -> Instant {
        checked_add(self.accepted, Duration::from_millis(ms))
    }

    /// A request arrived; it counts as in flight until the guard (which goes
    /// with the response body) is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> RequestGuard {
        self.started.store(true, Ordering::Release);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started_ms.store(0, Ordering::Release);
        RequestGuard(Arc::clone(self))
    }

    /// The first deadline of a new connection: its first request must arrive by then.
    pub(crate) fn first_deadline(&self, header_read_timeout: Duration) -> Instant {
        checked_add(self.accepted, header_read_timeout)
    }

    /// Decides at `now` (the timer fired) whether the connection closes.
    pub(crate) fn check(
        &self,
        now: Instant,
        idle_timeout: Duration,
        header_read_timeout: Duration,
    ) -> Verdict {
        if !self.started.load(Ordering::Acquire) {
            let deadline = self.first_deadline(header_read_timeout);
            return if now >= deadline {
                Verdict::Close("header_timeout")
            } else {
                Verdict::Recheck(deadline)
            };
        }
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Verdict::Recheck(checked_add(now, idle_timeout));
        }
        let head = self.head_started_ms.load(Ordering::Acquire);
        if head > 0 {
            let deadline = checked_add(self.at_ms(head - 1), header_read_timeout);
            return if now >= deadline {
                Verdict::Close("header_timeout")
            } else {
                Verdict::Recheck(deadline)
            };
        }
        let idle_since = self.at_ms(self.idle_since_ms.load(Ordering::Acquire));
        let deadline = checked_add(idle_since, idle_timeout);
        if now >= deadline {
            Verdict::Close("idle")
        } else {
            Verdict::Recheck(deadline)
        }
    }
}

/// `at + by`, or far in the future (a validated setting never gets there).
fn checked_add(at: Instant, by: Duration) -> Instant {
    at.checked_add(by)
        .unwrap_or_else(|| at + Duration::from_secs(86_400 * 365))
}

/// One request in flight on a connection.
#[derive(Debug)]
pub(crate) struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let activity = &self.0;
        // Every drop stamps the time before the count goes down, so a timer
        // that sees zero in flight also sees when the last request ended
        // (while requests are in flight the stamp is not read).
        activity
            .idle_since_ms
            .store(activity.elapsed_ms(), Ordering::Release);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The open connections of a tonic server, by peer address (a TCP peer
/// address is unique among open connections to one listener); tonic puts the
/// peer's [`TcpConnectInfo`] on every request, which is how a request finds
/// its connection.
#[derive(Debug, Default)]
pub(crate) struct Registry(Mutex<HashMap<SocketAddr, Arc<Activity>>>);

impl Registry {
    pub(crate) fn insert(&self, peer: SocketAddr, activity: &Arc<Activity>) {
        self.lock().insert(peer, Arc::clone(activity));
    }

    /// Forgets `peer`'s connection, if it is still `activity` (not a newer one).
    pub(crate) fn remove(&self, peer: SocketAddr, activity: &Arc<Activity>) {
        let mut map = self.lock();
        if map.get(&peer).is_some_and(|a| Arc::ptr_eq(a, activity)) {
            map.remove(&peer);
        }
    }

    pub(crate) fn get(&self, peer: SocketAddr) -> Option<Arc<Activity>> {
        self.lock().get(&peer).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Arc<Activity>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Marks each request in flight on its connection's [`Activity`] until its
/// response body is done.
#[derive(Clone, Debug)]
pub(crate) struct ActivityLayer(pub(crate) Arc<Registry>);

impl<S> tower::Layer<S> for ActivityLayer {
    type Service = ActivityService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ActivityService {
            inner,
            registry: Arc::clone(&self.0),
        }
    }
}

/// The service of [`ActivityLayer`].
#[derive(Clone, Debug)]
pub(crate) struct ActivityService<S> {
    inner: S,
    registry: Arc<Registry>,
}

impl<S, B, ResBody> tower::Service<http::Request<B>> for ActivityService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = http::Response<GuardedBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let activity = request
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr)
            .and_then(|peer| self.registry.get(peer));
        if activity.as_ref().is_some_and(|a| a.probe_only)
            && !request.uri().path().starts_with(GRPC_HEALTH)
        {
            return Box::pin(std::future::ready(Ok(reserve_only())));
        }
        let guard = activity.map(|activity| activity.begin());
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            Ok(response.map(|body| GuardedBody {
                body: Some(body),
                guard,
            }))
        })
    }
}

/// The path prefix of `grpc.health.v1` calls, the only ones a reserve connection serves.
const GRPC_HEALTH: &str = "/grpc.health.v1.Health/";

/// A trailers-only `UNAVAILABLE` for a call on a reserve connection.
fn reserve_only<B>() -> http::Response<GuardedBody<B>> {
    let mut response = http::Response::new(GuardedBody {
        body: None,
        guard: None,
    });
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", http::HeaderValue::from_static("14"));
    headers.insert(
        "grpc-message",
        http::HeaderValue::from_static(
            "every%20connection%20is%20busy%20(grpc.server.max_connections);%20this%20one%20only%20serves%20grpc.health.v1",
        ),
    );
    response
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request in flight until it is dropped.
    pub(crate) struct GuardedBody<B> {
        // None: an empty body (a trailers-only gRPC answer).
        #[pin]
        body: Option<B>,
        guard: Option<RequestGuard>,
    }
}

impl<B> GuardedBody<B> {
    pub(crate) fn new(body: B, guard: RequestGuard) -> Self {
        Self {
            body: Some(body),
            guard: Some(guard),
        }
    }
}

impl<B: Body> Body for GuardedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().body.as_pin_mut() {
            Some(body) => body.poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(60);
    const HEADER: Duration = Duration::from_secs(10);

    #[test]
    fn a_connection_without_a_request_closes_at_the_header_deadline() {
        let activity = Activity::new(false);
        let start = activity.accepted;
        assert_eq!(
            activity.check(start + Duration::from_secs(1), IDLE, HEADER),
            Verdict::Recheck(start + HEADER)
        );
        assert_eq!(
            activity.check(start + HEADER, IDLE, HEADER),
            Verdict::Close("header_timeout")
        );
    }

    #[test]
    fn a_request_in_flight_keeps_the_connection_and_idleness_starts_when_it_ends() {
        let activity = Activity::new(false);
        let start = activity.accepted;
        let guard = activity.begin();
        let late = start + Duration::from_secs(3600);
        assert_eq!(
            activity.check(late, IDLE, HEADER),
            Verdict::Recheck(late + IDLE)
        );
        drop(guard);
        let idle_since =
            start + Duration::from_millis(activity.idle_since_ms.load(Ordering::Acquire));
        assert_eq!(
            activity.check(idle_since, IDLE, HEADER),
            Verdict::Recheck(idle_since + IDLE)
        );
        assert_eq!(
            activity.check(idle_since + IDLE, IDLE, HEADER),
            Verdict::Close("idle")
        );
    }

    #[test]
    fn a_started_http1_request_head_has_the_header_read_timeout_to_complete() {
        let activity = Activity::new(false);
        drop(activity.begin());
        activity.bytes_arrived();
        let head = activity.at_ms(activity.head_started_ms.load(Ordering::Acquire) - 1);
        assert_eq!(
            activity.check(head + HEADER, IDLE, HEADER),
            Verdict::Close("header_timeout")
        );
        drop(activity.begin());
        assert!(matches!(
            activity.check(head + HEADER, IDLE, HEADER),
            Verdict::Recheck(_)
        ));
    }
}
