//! [`ShutdownHandle`]: start or force shutdown from code, as SIGTERM does; and the
//! signal listener that uses it.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What has been asked of the service so far.
#[derive(Clone, Debug, Default)]
pub(crate) struct Requests {
    /// Why graceful shutdown was requested, once it was.
    pub(crate) graceful: Option<String>,
    /// Why shutdown was forced, once it was.
    pub(crate) force: Option<String>,
}

/// Starts or forces the shutdown of a running service from code.
///
/// [`trigger`](Self::trigger) does what the first SIGTERM does (graceful
/// shutdown; repeated calls change nothing); [`force`](Self::force) does what a
/// second one does. Cheap to clone; get one from
/// [`Service::shutdown_handle`](crate::Service::shutdown_handle),
/// [`RunningService::shutdown_handle`](crate::RunningService::shutdown_handle) or
/// [`Lifecycle::shutdown_handle`](crate::Lifecycle::shutdown_handle).
///
/// ```
/// let handle = boost_service::ServiceBuilder::new(Default::default()).shutdown_handle();
/// assert!(!handle.is_triggered());
/// handle.trigger();
/// assert!(handle.is_triggered());
/// ```
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    requests: Arc<watch::Sender<Requests>>,
}

impl Default for ShutdownHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl ShutdownHandle {
    pub(crate) fn new() -> Self {
        Self {
            requests: Arc::new(watch::Sender::new(Requests::default())),
        }
    }

    /// Starts graceful shutdown, like SIGTERM. Idempotent.
    pub fn trigger(&self) {
        self.requests.send_if_modified(|r| {
            let first = r.graceful.is_none();
            if first {
                r.graceful = Some("ShutdownHandle::trigger".to_owned());
            }
            first
        });
    }

    /// Forces shutdown, like a second SIGTERM: tasks are aborted at once and
    /// `run` returns [`Error::Forced`](crate::Error::Forced).
    pub fn force(&self) {
        self.requests.send_if_modified(|r| {
            let first = r.force.is_none();
            if first {
                r.graceful
                    .get_or_insert_with(|| "ShutdownHandle::force".to_owned());
                r.force = Some("ShutdownHandle::force".to_owned());
            }
            first
        });
    }

    /// `true` once shutdown was requested (by a signal or this handle).
    pub fn is_triggered(&self) -> bool {
        self.requests.borrow().graceful.is_some()
    }

    /// A signal arrived: the first starts graceful shutdown, the next forces it.
    fn signal(&self, name: &str) {
        // Log before publishing the request: the lifecycle logs its own
        // "shutdown started" as soon as it sees the request, and the signal
        // should read first in the log.
        let (graceful, forced) = {
            let r = self.requests.borrow();
            (r.graceful.is_some(), r.force.is_some())
        };
        if !graceful {
            tracing::info!(
                signal = name,
                "received {name}: starting graceful shutdown (send it again to force)"
            );
        } else if !forced {
            tracing::warn!(signal = name, "received {name} again: forcing shutdown");
        }
        self.requests.send_modify(|r| {
            if r.graceful.is_none() {
                r.graceful = Some(name.to_owned());
            } else if r.force.is_none() {
                r.force = Some(format!("a second {name}"));
            }
        });
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Requests> {
        self.requests.subscribe()
    }
}

/// Listens for SIGTERM and SIGINT (Ctrl-C elsewhere) and turns them into requests.
pub(crate) fn listen_for_signals(handle: ShutdownHandle) -> std::io::Result<JoinHandle<()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    Some(()) = term.recv() => "SIGTERM",
                    Some(()) = int.recv() => "SIGINT",
                    else => return,
                };
                handle.signal(name);
            }
        }))
    }
    #[cfg(not(unix))]
    {
        Ok(tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                handle.signal("Ctrl-C");
            }
        }))
    }
}
