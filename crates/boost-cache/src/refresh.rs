//! Refresh-ahead: reload a hot key in the background before it expires.

use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use moka::ops::compute::Op;

use crate::cache::{Cache, Shared};
use crate::load::run_loader;
use crate::size::ByteSize;

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + ByteSize + Send + Sync + 'static,
    V: Clone + ByteSize + Send + Sync + 'static,
{
    /// Starts a background reload of `key` with `loader`, unless one is already running.
    pub(crate) fn refresh<F, Fut, E>(&self, key: K, loader: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Option<V>, E>> + Send + 'static,
        E: std::fmt::Debug + Send + Sync + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Not on a Tokio runtime: nowhere to run the reload; the entry expires at its ttl.
            return;
        };
        let Some(in_flight) = InFlight::claim(&self.shared, key) else {
            return; // A reload of this key is already under way.
        };
        let cache = self.clone();
        runtime.spawn(async move {
            let started = Instant::now();
            let key = in_flight.key.clone();
            let result = run_loader(&cache.shared.metrics, loader).await;
            if let (Ok(answer), Some(l2)) = (&result, &cache.l2) {
                l2.store(&key, answer.as_ref(), None).await;
            }
            match result {
                Ok(Some(value)) => cache.replace_if_older(key, Some(value), started).await,
                Ok(None) if cache.shared.settings.negative_ttl.is_some() => {
                    cache.replace_if_older(key, None, started).await;
                }
                Ok(None) => cache.invalidate(&key).await,
                Err(error) => tracing::warn!(
                    cache = %cache.shared.settings.name,
                    error = ?error,
                    "cache refresh failed; serving the previous value until its ttl \
                     (counted in cache_loads_total{{outcome=\"error\"}})"
                ),
            }
            drop(in_flight);
        });
    }

    /// Stores the reloaded answer, unless the entry is gone (invalidated or expired while
    /// reloading) or was written after the reload started (that write is newer).
    async fn replace_if_older(&self, key: K, value: Option<V>, started: Instant) {
        let slot = self.slot(&key, value);
        if !self.fits(&slot) {
            // Keeping the old value would serve it past the source's newer answer.
            self.inner.invalidate(&key).await;
            return;
        }
        let bytes = slot.bytes;
        let result = self
            .inner
            .entry(key)
            .and_compute_with(|existing| {
                let op = match existing {
                    Some(entry) if entry.value().loaded_at <= started => Op::Put(slot),
                    _ => Op::Nop,
                };
                std::future::ready(op)
            })
            .await;
        if let moka::ops::compute::CompResult::ReplacedWith(_) = result {
            self.shared.metrics.written(bytes);
        }
    }
}

/// A key's claim on the one background reload it may have; released on drop, so a reload
/// that panics or is cancelled does not block later ones.
struct InFlight<K: Hash + Eq> {
    key: K,
    set: Arc<Shared<K>>,
}

impl<K: Hash + Eq + Clone> InFlight<K> {
    /// Claims `key`, or `None` when a reload of it is already in flight.
    fn claim(shared: &Arc<Shared<K>>, key: K) -> Option<Self> {
        let newly_claimed = lock(&shared.refreshing).insert(key.clone());
        newly_claimed.then(|| Self {
            key,
            set: Arc::clone(shared),
        })
    }
}

impl<K: Hash + Eq> Drop for InFlight<K> {
    fn drop(&mut self) {
        lock(&self.set.refreshing).remove(&self.key);
    }
}

/// Locks `mutex`, ignoring poisoning (the set stays consistent: each operation is one call).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
