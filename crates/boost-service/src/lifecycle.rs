//! [`Lifecycle`]: what every task and server of a service watches to know when to
//! stop, and how long it has.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

pub use crate::phase::Phase;
use crate::readiness::{Readiness, ReadinessReport};
use crate::shutdown::ShutdownHandle;

/// A cheap, cloneable view of the service's lifecycle, handed to every task.
///
/// The two moments a server cares about:
///
/// * [`shutdown_started`](Self::shutdown_started) — readiness just went false.
///   Flip health status (e.g. gRPC `NOT_SERVING`) but keep serving.
/// * [`stop_accepting`](Self::stop_accepting) — `drain_delay` later. Stop
///   accepting new work and finish in-flight work by [`deadline`](Self::deadline);
///   the task is aborted after it.
///
/// ```no_run
/// # async fn serve_one(_: ()) {}
/// use boost_service::Lifecycle;
///
/// async fn worker(lc: Lifecycle) -> Result<(), std::io::Error> {
///     loop {
///         tokio::select! {
///             _ = lc.stop_accepting() => return Ok(()), // in-flight work is done
///             job = next_job() => serve_one(job).await,
///         }
///     }
/// }
/// # async fn next_job() {}
/// ```
#[derive(Clone)]
pub struct Lifecycle {
    inner: Arc<Shared>,
}

struct Shared {
    phase: watch::Sender<Phase>,
    ready: watch::Sender<bool>,
    deadline: OnceLock<Instant>,
    drain_delay: Duration,
    shutdown_timeout: Duration,
    readiness: Readiness,
    shutdown: ShutdownHandle,
}

impl fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lifecycle")
            .field("phase", &self.phase())
            .field("drain_delay", &self.inner.drain_delay)
            .field("shutdown_timeout", &self.inner.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

impl Lifecycle {
    pub(crate) fn new(
        drain_delay: Duration,
        shutdown_timeout: Duration,
        readiness: Readiness,
        shutdown: ShutdownHandle,
    ) -> Self {
        Self {
            inner: Arc::new(Shared {
                phase: watch::Sender::new(Phase::Starting),
                ready: watch::Sender::new(false),
                deadline: OnceLock::new(),
                drain_delay,
                shutdown_timeout,
                readiness,
                shutdown,
            }),
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        *self.inner.phase.borrow()
    }

    /// A receiver that sees every phase change.
    pub fn watch_phase(&self) -> watch::Receiver<Phase> {
        self.inner.phase.subscribe()
    }

    /// `true` while the service accepts traffic: started and shutdown not begun.
    ///
    /// This is the service-wide switch; the readiness *checks* are evaluated on
    /// demand by [`check_readiness`](Self::check_readiness) and `/health/ready`.
    pub fn is_ready(&self) -> bool {
        *self.inner.ready.borrow()
    }

    /// A receiver of [`is_ready`](Self::is_ready): becomes `true` when serving
    /// starts and `false` the moment shutdown starts.
    pub fn watch_ready(&self) -> watch::Receiver<bool> {
        self.inner.ready.subscribe()
    }

    /// `true` once shutdown started (draining, stopping or stopped).
    pub fn is_shutting_down(&self) -> bool {
        self.phase() >= Phase::Draining
    }

    /// Resolves when shutdown starts: readiness is false from then on, but work
    /// is still accepted for `drain_delay`.
    ///
    /// The future is `'static`, so it can be handed to a server's graceful
    /// shutdown hook.
    pub fn shutdown_started(&self) -> impl Future<Output = ()> + Send + 'static {
        self.reached(Phase::Draining)
    }

    /// Resolves when the task should stop accepting new work (after
    /// `drain_delay`); in-flight work must finish by [`deadline`](Self::deadline).
    ///
    /// Pass it to a server's graceful shutdown hook, e.g. tonic's
    /// `serve_with_incoming_shutdown` or axum's `with_graceful_shutdown`.
    pub fn stop_accepting(&self) -> impl Future<Output = ()> + Send + 'static {
        self.reached(Phase::Stopping)
    }

    fn reached(&self, phase: Phase) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.inner.phase.subscribe();
        async move {
            // The sender lives as long as any Lifecycle, including ours: no error.
            let _ = rx.wait_for(|p| *p >= phase).await;
        }
    }

    /// When in-flight work must be done: set when tasks are told to stop
    /// accepting (`stop time + shutdown_timeout`); `None` before.
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.deadline.get().copied()
    }

    /// The configured drain delay (`lifecycle.drain_delay`).
    pub fn drain_delay(&self) -> Duration {
        self.inner.drain_delay
    }

    /// The configured time for in-flight work (`lifecycle.shutdown_timeout`).
    pub fn shutdown_timeout(&self) -> Duration {
        self.inner.shutdown_timeout
    }

    /// Runs the readiness checks (or reuses a result younger than
    /// `readiness_cache_ttl`) and reports them, as `/health/ready` does.
    pub async fn check_readiness(&self) -> ReadinessReport {
        self.inner.readiness.report(self.phase()).await
    }

    /// A handle that starts (or forces) shutdown, as SIGTERM does.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.inner.shutdown.clone()
    }

    pub(crate) fn enter(&self, phase: Phase) {
        if phase == Phase::Stopping {
            let _ = self
                .inner
                .deadline
                .set(deadline_after(self.inner.shutdown_timeout));
        }
        self.inner.phase.send_if_modified(|p| {
            let moved = *p < phase;
            if moved {
                *p = phase;
            }
            moved
        });
        let ready = self.phase() == Phase::Serving;
        self.inner.ready.send_if_modified(|r| {
            let changed = *r != ready;
            *r = ready;
            changed
        });
    }
}

/// `now + timeout`, or a deadline decades away when that would overflow (a
/// `shutdown_timeout` of "100000 years" means "wait for the tasks", not a panic).
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    const DECADES: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(DECADES))
        .unwrap_or(now)
}
