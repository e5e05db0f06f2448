//! Hot reload: a `tokio::sync::watch` channel fed by file-system events.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};

use crate::error::ConfigError;
use crate::loaded::Loaded;
use crate::validate::Validate;

impl<T> Loaded<T>
where
    T: DeserializeOwned + Serialize + Default + Validate + Send + Sync + 'static,
{
    /// Watches the config files and publishes each new configuration that
    /// loads *and* validates.
    ///
    /// The receiver starts with the current value. After a file of layers 2–4
    /// changes (changes within the [debounce](crate::Loader::reload_debounce)
    /// window count as one), the loader runs again with the same directory,
    /// environment variables and arguments. A configuration that fails to
    /// load or validate is reported as a `tracing::error!` event and the last
    /// good one stays. Watching stops when every receiver is dropped.
    ///
    /// Editors that save by renaming a temporary file, and Kubernetes
    /// ConfigMap volumes (which swap a `..data` symlink), are handled. Secret
    /// files named by `_FILE` variables are not watched; restart the service
    /// to pick up a rotated secret.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Watch`] when called outside a Tokio runtime, when no
    /// directory of the config files exists, or when the OS refuses to watch.
    pub fn watch(&self) -> Result<watch::Receiver<Arc<T>>, ConfigError> {
        self.spawn_watch(self.shared(), |loaded| loaded.shared())
    }

    /// Like [`watch`](Self::watch), but publishes the whole [`Loaded`], so a
    /// reloaded configuration can still be [explained](Self::explain) (for an
    /// admin `/config` endpoint) with its provenance.
    ///
    /// # Errors
    ///
    /// As for [`watch`](Self::watch).
    pub fn watch_loaded(&self) -> Result<watch::Receiver<Loaded<T>>, ConfigError> {
        self.spawn_watch(self.clone(), |loaded| loaded)
    }

    fn spawn_watch<M: Send + Sync + 'static>(
        &self,
        initial: M,
        publish: fn(Loaded<T>) -> M,
    ) -> Result<watch::Receiver<M>, ConfigError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::Watch {
            message: "Loaded::watch must be called inside a Tokio runtime".to_owned(),
        })?;
        let names: BTreeSet<OsString> = self
            .files
            .iter()
            .filter_map(|file| file.file_name().map(OsString::from))
            .collect();
        let dirs: BTreeSet<PathBuf> = self
            .files
            .iter()
            .map(|file| match file.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
                _ => PathBuf::from("."),
            })
            .filter(|dir| dir.is_dir())
            .collect();
        if dirs.is_empty() {
            return Err(ConfigError::Watch {
                message: format!(
                    "none of the config directories exists (looked for {}); create the \
                     directory, or do not enable hot reload",
                    self.files
                        .iter()
                        .map(|file| file.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }

        let (changes_tx, changes) = mpsc::unbounded_channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                let is_write = match event.kind {
                    EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
                    EventKind::Access(_) => false,
                    _ => true,
                };
                // `..data` is the symlink Kubernetes swaps when a mounted
                // ConfigMap changes; the files themselves link through it.
                let ours = event.paths.iter().any(|path| {
                    path.file_name()
                        .is_some_and(|name| names.contains(name) || name == "..data")
                });
                if is_write && ours {
                    let _ = changes_tx.send(());
                }
            })
            .map_err(watch_error)?;
        for dir in &dirs {
            watcher
                .watch(dir, RecursiveMode::NonRecursive)
                .map_err(watch_error)?;
        }

        let (tx, rx) = watch::channel(initial);
        runtime.spawn(reload_loop(
            watcher,
            tx,
            changes,
            self.loader.clone(),
            publish,
        ));
        Ok(rx)
    }
}

fn watch_error(error: notify::Error) -> ConfigError {
    ConfigError::Watch {
        message: error.to_string(),
    }
}

async fn reload_loop<T, W, M>(
    watcher: W,
    tx: watch::Sender<M>,
    mut changes: mpsc::UnboundedReceiver<()>,
    loader: crate::Loader,
    publish: fn(Loaded<T>) -> M,
) where
    T: DeserializeOwned + Serialize + Default + Validate + Send + Sync + 'static,
    W: Watcher + Send + 'static,
    M: Send + Sync + 'static,
{
    // Keeps the OS watch alive for as long as this task runs.
    let _watcher = watcher;
    let service = loader.service_name().to_owned();
    loop {
        tokio::select! {
            () = tx.closed() => return,
            change = changes.recv() => if change.is_none() { return },
        }
        // Debounce: wait until the files have been quiet for a while.
        loop {
            match tokio::time::timeout(loader.debounce(), changes.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return,
                Err(_quiet) => break,
            }
        }
        let reload = loader.clone();
        match tokio::task::spawn_blocking(move || reload.load::<T>()).await {
            Ok(Ok(loaded)) => {
                tx.send_replace(publish(loaded));
                tracing::info!(service = %service, "configuration reloaded");
            }
            Ok(Err(error)) => {
                tracing::error!(
                    service = %service,
                    error = %error,
                    "configuration reload failed; keeping the last good configuration"
                );
            }
            Err(join_error) => {
                tracing::error!(
                    service = %service,
                    error = %join_error,
                    "configuration reload stopped unexpectedly; keeping the last good configuration"
                );
            }
        }
    }
}
