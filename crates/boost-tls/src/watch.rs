//! [`Watch`]: the task that keeps a `tls` section's files current.
//!
//! It watches the *directories* of the files (cert-manager and Kubernetes
//! secret volumes swap a `..data` symlink, Vault agent renames into place:
//! the file itself is never written) and also re-checks every
//! `reload_interval`, for mounts where no event arrives. Events are let
//! settle for a moment first, so a chain and a key written one after the
//! other are read together.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use notify::Watcher as _;
use tokio::sync::Notify;

use crate::reload::Material;

/// How long after a file event the files are read: a chain and its key are
/// often written as two steps.
const SETTLE: Duration = Duration::from_millis(200);

/// Keeps certificates, keys and CA bundles current while it is polled:
/// spawn it next to the server or client that uses them, and drop (or
/// abort) it at shutdown. It never completes on its own.
///
/// Made by [`ServerTls::watch`](crate::ServerTls::watch) and
/// [`ClientTls::watch`](crate::ClientTls::watch).
#[must_use = "a Watch does nothing unless it is spawned or awaited"]
pub struct Watch {
    inner: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watch")
    }
}

impl Future for Watch {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl Watch {
    pub(crate) fn new(material: Arc<Material>) -> Watch {
        Watch {
            inner: Box::pin(run(material)),
        }
    }
}

async fn run(material: Arc<Material>) {
    let wake = Arc::new(Notify::new());
    // Held for as long as the loop runs; dropping it stops the watcher thread.
    let _watcher = watch_dirs(&material, Arc::clone(&wake));
    let mut tick = tokio::time::interval(material.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is now: the files were just loaded
    loop {
        tokio::select! {
            () = wake.notified() => tokio::time::sleep(SETTLE).await,
            _ = tick.tick() => {}
        }
        let material = Arc::clone(&material);
        // Small files, but still blocking reads: off the runtime's workers.
        // The outcome is logged and counted inside.
        let _ = tokio::task::spawn_blocking(move || material.reload()).await;
    }
}

/// Starts a watcher on the directories of the files; `None` (logged) when
/// the platform refuses, and the interval check is all there is.
fn watch_dirs(material: &Material, wake: Arc<Notify>) -> Option<notify::RecommendedWatcher> {
    let handler = move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !matches!(event.kind, notify::EventKind::Access(_))
        {
            wake.notify_one();
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(watcher) => watcher,
        Err(error) => {
            tracing::warn!(
                tls = %material.section,
                error = %error,
                interval = ?material.interval,
                "cannot watch the TLS files; changes are picked up by the interval check only"
            );
            return None;
        }
    };
    let dirs: BTreeSet<PathBuf> = material.files().iter().map(|file| dir_of(file)).collect();
    for dir in dirs {
        if let Err(error) = watcher.watch(&dir, notify::RecursiveMode::NonRecursive) {
            tracing::warn!(
                tls = %material.section,
                dir = %dir.display(),
                error = %error,
                "cannot watch a TLS file's directory; its changes are picked up by the interval check only"
            );
        }
    }
    Some(watcher)
}

fn dir_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}
