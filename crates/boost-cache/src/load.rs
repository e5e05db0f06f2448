//! [`Cache::get_or_load`]: read through the cache, loading misses once per key.

use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::cache::Cache;
use crate::entry::Slot;
use crate::metrics::CacheMetrics;
use crate::size::ByteSize;
use crate::tier::Lookup;

/// Why a coalesced load produced no entry; handed to every waiter.
enum NoEntry<V, E> {
    /// The loader's value is too large to cache: every waiter gets it, nothing is stored.
    TooLarge(V),
    /// The loader failed: the error goes to every waiter and nothing is cached.
    Failed(Arc<E>),
    /// The loader answered "absent" and negative caching is off: nothing is cached.
    Absent,
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + ByteSize + Send + Sync + 'static,
    V: Clone + ByteSize + Send + Sync + 'static,
{
    /// The value for `key`: from the cache when present, else from `loader`, which is run
    /// **once** however many callers miss the same key at the same time.
    ///
    /// `loader` answers `Ok(Some(value))` (cached for `ttl`), `Ok(None)` — the key does not
    /// exist at the source (cached for `negative_ttl` when set; returned as `Ok(None)`) — or
    /// `Err(e)`: every caller waiting on that load gets the same `Arc<E>`, nothing is cached,
    /// and the next call loads again.
    ///
    /// With `refresh_after` set, a hit on a value older than that is returned at once and
    /// `loader` is spawned on the current Tokio runtime to reload the key in the background
    /// (one reload per key at a time; a failed reload keeps the old value until its `ttl`).
    /// This is the only way a refresh happens — [`get`](Self::get) never refreshes — and the
    /// reason `loader` must be `Send + 'static`: capture owned handles (an `Arc` of a client)
    /// rather than borrows.
    ///
    /// Counted as `result="hit"`, `"stale"` (a hit due for refresh) or `"miss"` (the caller ran
    /// the loader or waited for another caller's run); each loader run as
    /// `cache_loads_total{outcome}` and `cache_load_duration_seconds`.
    pub async fn get_or_load<F, Fut, E>(&self, key: K, loader: F) -> Result<Option<V>, Arc<E>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Option<V>, E>> + Send + 'static,
        E: std::fmt::Debug + Send + Sync + 'static,
    {
        // With a second tier, a miss in memory asks Redis first, without coalescing: a
        // Redis `GET` costs less than moka's per-key coalescing of a miss (its waiter map),
        // so only keys Redis lacks go on to the coalesced load below.
        let mut asked = Asked::Nothing;
        if let Some(l2) = &self.l2 {
            if let Some(slot) = self.inner.get(&key).await {
                return Ok(self.answer_hit(key, slot, loader));
            }
            asked = match l2.lookup(&key).await {
                Lookup::Hit(answer) => {
                    self.shared.metrics.miss.increment(1);
                    return Ok(self.keep(key, answer).await);
                }
                Lookup::Miss(_) => Asked::Missed,
                Lookup::Unavailable => Asked::Unavailable,
            };
        }
        // One lookup does both: a hit returns at once; a miss runs `init` (or waits for the
        // caller already running it). A single lookup matters: each records a read in moka's
        // popularity sketch, and a double-counted miss would skew admission and the hit ratio.
        // (A two-tier cache's miss in both tiers is recorded twice: once above.)
        let mut loader = Some(loader);
        let mut loaded_here = false;
        let init = async {
            loaded_here = true;
            let Some(loader) = loader.take() else {
                return Err(NoEntry::Absent); // unreachable: init runs at most once
            };
            // Boxed: keeps the second tier's and the loader's futures out of the hit path's
            // (much copied) future.
            Box::pin(self.fill(&key, loader, asked)).await
        };
        // A lookup that had to wait was a miss served by another caller's load. (A hit never
        // waits in practice: moka's read path only tries its housekeeping lock.)
        let mut waited = false;
        let outcome = NoteWait {
            inner: self.inner.try_get_with_by_ref(&key, init),
            waited: &mut waited,
        }
        .await;

        let metrics = &self.shared.metrics;
        match outcome {
            Ok(slot) => {
                if loaded_here || waited {
                    metrics.miss.increment(1);
                    Ok(slot.value)
                } else {
                    match loader.take() {
                        Some(loader) => Ok(self.answer_hit(key, slot, loader)),
                        None => Ok(slot.value), // unreachable: the loader is only taken by init
                    }
                }
            }
            Err(no_entry) => {
                metrics.miss.increment(1);
                match &*no_entry {
                    NoEntry::TooLarge(value) => Ok(Some(value.clone())),
                    NoEntry::Absent => Ok(None),
                    NoEntry::Failed(error) => Err(Arc::clone(error)),
                }
            }
        }
    }
}

/// What the second tier said before a coalesced load.
#[derive(Debug, Clone, Copy)]
enum Asked {
    /// Not asked: the cache has no second tier.
    Nothing,
    /// It holds nothing usable for the key.
    Missed,
    /// It could not be asked (error, timeout, open circuit, key too long): the load skips it.
    Unavailable,
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + ByteSize + Send + Sync + 'static,
    V: Clone + ByteSize + Send + Sync + 'static,
{
    /// A hit in memory: its value, counted as a hit, or as stale (starting a background
    /// refresh with `loader`) when it is due for one.
    fn answer_hit<F, Fut, E>(&self, key: K, slot: Slot<V>, loader: F) -> Option<V>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Option<V>, E>> + Send + 'static,
        E: std::fmt::Debug + Send + Sync + 'static,
    {
        if self.is_due_for_refresh(&slot) {
            self.shared.metrics.stale.increment(1);
            self.refresh(key, loader);
        } else {
            self.shared.metrics.hit.increment(1);
        }
        slot.value
    }

    /// The second tier's answer for a key missing from memory, kept in memory too when it
    /// fits (a value, or an absence with negative caching on).
    async fn keep(&self, key: K, answer: Option<V>) -> Option<V> {
        let keep = answer.is_some() || self.shared.settings.negative_ttl.is_some();
        if keep && self.fits_bytes(self.slot_bytes(&key, answer.as_ref())) {
            let slot = self.slot(&key, answer.clone());
            self.shared.metrics.written(slot.bytes);
            // Boxed: moka's insert future is large, and `get_or_load`'s future (copied on
            // every call, hit or not) would otherwise be as large.
            Box::pin(self.inner.insert(key, slot)).await;
        }
        answer
    }

    /// The answer for a key missing from memory (and, with a second tier, `asked` there
    /// already): the value another replica is loading, else the loader's (written back to
    /// the second tier), as the slot to keep in memory.
    async fn fill<F, Fut, E>(
        &self,
        key: &K,
        loader: F,
        asked: Asked,
    ) -> Result<Slot<V>, NoEntry<V, E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<V>, E>>,
    {
        let l2 = match (&self.l2, asked) {
            (Some(l2), Asked::Missed) => l2,
            _ => {
                return match run_loader(&self.shared.metrics, loader).await {
                    Ok(answer) => self.admit(key, answer),
                    Err(error) => Err(NoEntry::Failed(Arc::new(error))),
                };
            }
        };
        let (write_back, lease) = match l2.claim(key).await {
            Lookup::Hit(answer) => return self.admit(key, answer),
            Lookup::Miss(lease) => (true, lease),
            Lookup::Unavailable => (false, None),
        };
        let result = run_loader(&self.shared.metrics, loader).await;
        match (&result, write_back) {
            (Ok(answer), true) => l2.store(key, answer.as_ref(), lease).await,
            (Err(_), true) => {
                if let Some(lease) = lease {
                    l2.release(key, lease).await;
                }
            }
            (_, false) => {}
        }
        match result {
            Ok(answer) => self.admit(key, answer),
            Err(error) => Err(NoEntry::Failed(Arc::new(error))),
        }
    }

    /// `answer` as the slot to keep in memory, or why none is kept.
    fn admit<E>(&self, key: &K, answer: Option<V>) -> Result<Slot<V>, NoEntry<V, E>> {
        let slot = match answer {
            Some(value) => self.slot(key, Some(value)),
            None if self.shared.settings.negative_ttl.is_some() => self.slot(key, None),
            None => return Err(NoEntry::Absent),
        };
        if !self.fits(&slot) {
            return Err(match slot.value {
                Some(value) => NoEntry::TooLarge(value),
                None => NoEntry::Absent,
            });
        }
        // moka inserts what init returns: count the entry now.
        self.shared.metrics.written(slot.bytes);
        Ok(slot)
    }
}

/// Runs `loader`, recording its duration and outcome.
pub(crate) async fn run_loader<F, Fut, V, E>(
    metrics: &CacheMetrics,
    loader: F,
) -> Result<Option<V>, E>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Option<V>, E>>,
{
    let started = Instant::now();
    let result = loader().await;
    metrics.load_duration.record(started.elapsed());
    match &result {
        Ok(Some(_)) => metrics.load_ok.increment(1),
        Ok(None) => metrics.load_absent.increment(1),
        Err(_) => metrics.load_error.increment(1),
    }
    result
}

pin_project_lite::pin_project! {
    /// Polls `inner`, noting in `waited` whether it ever returned `Pending`.
    struct NoteWait<'a, F> {
        #[pin]
        inner: F,
        waited: &'a mut bool,
    }
}

impl<F: Future> Future for NoteWait<'_, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let poll = this.inner.poll(cx);
        **this.waited |= poll.is_pending();
        poll
    }
}
