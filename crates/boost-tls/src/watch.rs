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
            inner: Box::pin(run(material, Events::Watched)),
        }
    }
}

/// Whether file events are watched (tests turn them off to see the interval
/// check alone, as on a mount where no event arrives).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Events {
    Watched,
    #[cfg(test)]
    Ignored,
}

async fn run(material: Arc<Material>, events: Events) {
    let wake = Arc::new(Notify::new());
    // Held for as long as the loop runs; dropping it stops the watcher thread.
    let _watcher = match events {
        Events::Watched => watch_dirs(&material, Arc::clone(&wake)),
        #[cfg(test)]
        Events::Ignored => None,
    };
    let mut tick = tokio::time::interval(material.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is now: the files were just loaded
    // The watch first runs once the service's runtime is past start-up, so
    // after the metrics recorder is installed.
    material.publish_expiry();
    loop {
        tokio::select! {
            () = wake.notified() => tokio::time::sleep(SETTLE).await,
            _ = tick.tick() => {}
        }
        // Small files, but still blocking reads: off the runtime's workers.
        // The outcome is logged and counted inside.
        let _ = tokio::task::spawn_blocking({
            let material = Arc::clone(&material);
            move || material.reload()
        })
        .await;
        material.publish_expiry();
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use boost_test_certs::{Ca, Leaf};

    use super::*;
    use crate::{ServerTls, ServerTlsSettings};

    #[tokio::test]
    async fn without_file_events_the_interval_check_takes_new_files() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("ca");
        let (cert, key) = ca.issue(&Leaf::new("first")).write(dir.path(), "tls");
        let settings =
            ServerTlsSettings::new(&cert, &key).with_reload_interval(Duration::from_secs(1));
        let tls = ServerTls::from_settings("grpc.tls", &settings)
            .unwrap()
            .unwrap();
        let material = tls.material();
        let task = tokio::spawn(run(Arc::clone(&material), Events::Ignored));
        ca.issue(&Leaf::new("second")).write_to(&cert, &key);
        let in_use = || {
            let pair = material.pair.as_ref().unwrap().current.get();
            crate::PeerIdentity::from_certificate(&pair.cert[0])
                .unwrap()
                .subject()
                .to_owned()
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while in_use() != "CN=second" {
            assert!(
                Instant::now() < deadline,
                "the interval check never took the new files"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        task.abort();
    }
}
