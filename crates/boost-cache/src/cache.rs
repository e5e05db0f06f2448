//! [`Cache`]: the handle users hold; reads, writes and invalidation.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::builder::CacheBuilder;
use crate::entry::{L1, Slot};
use crate::jitter::Jitter;
use crate::metrics::CacheMetrics;
use crate::settings::CacheSettings;
use crate::size::ByteSize;
use crate::tier::{L2Status, Lookup, SecondTier};

/// An in-process cache of `K → V` with request coalescing, negative caching, TTL jitter,
/// refresh-ahead and metrics. Cloning is cheap (two `Arc`s) and every clone shares the
/// same entries.
///
/// Build one with [`Cache::new`] (settings only) or [`Cache::builder`] (weigher, seed); read
/// through it with [`get_or_load`](Cache::get_or_load). See the [crate guide](crate) for an
/// example.
pub struct Cache<K, V> {
    pub(crate) inner: L1<K, V>,
    pub(crate) shared: Arc<Shared<K>>,
    /// The shared second tier, when the cache was built with one.
    pub(crate) l2: Option<Arc<dyn SecondTier<K, V>>>,
}

/// The state every clone of one cache shares.
pub(crate) struct Shared<K> {
    pub(crate) settings: CacheSettings,
    pub(crate) jitter: Jitter,
    pub(crate) metrics: Arc<CacheMetrics>,
    /// Keys with a background refresh under way: at most one per key.
    pub(crate) refreshing: Mutex<HashSet<K>>,
    /// The largest entry (key and answer, in bytes) the cache stores: `max_entry_share` of
    /// `max_bytes`.
    pub(crate) max_entry_bytes: u64,
}

impl<K, V> Clone for Cache<K, V> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            l2: self.l2.clone(),
        }
    }
}

impl<K, V> fmt::Debug for Cache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("name", &self.shared.settings.name)
            .field("entry_count", &self.inner.entry_count())
            .finish_non_exhaustive()
    }
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + ByteSize + Send + Sync + 'static,
    V: Clone + ByteSize + Send + Sync + 'static,
{
    /// A cache built from `settings`; same as `Cache::builder(settings).build()`.
    ///
    /// Metric handles are registered with the `metrics` recorder in scope now: in a
    /// service, the one `boost_service::Service` installed when it was made.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) when the settings break their rules; every
    /// problem is listed (see [`CacheBuilder::build`]).
    pub fn new(settings: CacheSettings) -> Result<Self, crate::Error> {
        CacheBuilder::new(settings).build()
    }

    /// A cache with the shared second tier its settings' `l2` section describes; same as
    /// `Cache::builder(settings).build_two_tier()` (see
    /// [`CacheBuilder::build_two_tier`]). Cargo feature `redis`.
    ///
    /// # Errors
    /// As [`CacheBuilder::build_two_tier`].
    #[cfg(feature = "redis")]
    pub fn two_tier(settings: CacheSettings) -> Result<Self, crate::Error>
    where
        K: std::fmt::Display + std::str::FromStr,
        V: serde::Serialize + serde::de::DeserializeOwned,
    {
        CacheBuilder::new(settings).build_two_tier()
    }

    /// A builder for the less common knobs: a jitter seed.
    pub fn builder(settings: CacheSettings) -> CacheBuilder<K, V> {
        CacheBuilder::new(settings)
    }

    /// The cached value for `key`, without loading and without refresh-ahead.
    ///
    /// With a second tier, a miss in memory asks it (without coalescing) and keeps its
    /// answer in memory.
    ///
    /// `None` when the key is not cached *or* is cached as absent (negative caching); use
    /// [`get_or_load`](Self::get_or_load) to tell a source's "absent" from "not asked yet".
    /// Counted as `result="hit"` or `result="miss"`.
    pub async fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
    {
        match self.inner.get(key).await {
            Some(slot) => {
                self.shared.metrics.hit.increment(1);
                slot.value
            }
            None => {
                self.shared.metrics.miss.increment(1);
                match &self.l2 {
                    Some(l2) => Box::pin(self.get_from_l2(l2.as_ref(), key)).await,
                    None => None,
                }
            }
        }
    }

    /// The second tier's answer for `key`, kept in memory too; `None` for a miss or an
    /// absence.
    async fn get_from_l2<Q>(&self, l2: &dyn SecondTier<K, V>, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
    {
        let owned: K = key.to_owned();
        match l2.lookup(&owned).await {
            Lookup::Hit(value) => {
                let slot = self.slot(&owned, value.clone());
                let keep = value.is_some() || self.shared.settings.negative_ttl.is_some();
                if keep && self.fits(&slot) {
                    self.shared.metrics.written(slot.bytes);
                    self.inner.insert(owned, slot).await;
                }
                value
            }
            Lookup::Miss(_) | Lookup::Unavailable => None,
        }
    }

    /// Stores `value` for `key`, replacing any cached answer; its lifetime is a fresh
    /// jittered `ttl`. A value too large to cache (over `max_entry_share` of `max_bytes`)
    /// is not stored and the key's previous answer is dropped, so it cannot be served stale;
    /// counted in `cache_rejected_total{reason="too_large"}`.
    ///
    /// With a second tier, the value is written there too (write-through).
    pub async fn insert(&self, key: K, value: V) {
        if let Some(l2) = &self.l2 {
            l2.store(&key, Some(&value), None).await;
        }
        let slot = self.slot(&key, Some(value));
        if self.fits(&slot) {
            self.shared.metrics.written(slot.bytes);
            self.inner.insert(key, slot).await;
        } else {
            self.inner.invalidate(&key).await;
        }
    }

    /// Drops the cached answer for `key`, if any (counted as `cause="explicit"`).
    ///
    /// With a second tier, also deletes the key there and tells every replica to drop it
    /// from memory (Redis pub/sub); this replica's memory is dropped even when Redis is
    /// unreachable.
    pub async fn invalidate<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
    {
        self.inner.invalidate(key).await;
        if let Some(l2) = &self.l2 {
            l2.invalidate(&key.to_owned()).await;
        }
    }

    /// Drops every cached answer. Entries are removed from memory (and counted) lazily, by
    /// moka's housekeeping; they are never returned again.
    ///
    /// With a second tier, this cache's keys are also deleted there (a `SCAN` and `UNLINK`
    /// in batches) and then every replica is told to drop its memory, in a task spawned on
    /// the current Tokio runtime; [`invalidate_all_tiers`](Self::invalidate_all_tiers)
    /// waits for it.
    pub fn invalidate_all(&self) {
        self.inner.invalidate_all();
        if let Some(l2) = &self.l2
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let l2 = Arc::clone(l2);
            runtime.spawn(async move { l2.invalidate_all().await });
        }
    }

    /// [`invalidate_all`](Self::invalidate_all), returning once the second tier (if any)
    /// has deleted this cache's keys and told the other replicas.
    pub async fn invalidate_all_tiers(&self) {
        self.inner.invalidate_all();
        if let Some(l2) = &self.l2 {
            l2.invalidate_all().await;
        }
    }

    /// For a service that must not run without its second tier: `Ok` when the cache has
    /// none or Redis answers a `PING` within `l2.timeout` (and the circuit is not open).
    /// Register it as a readiness check; nothing else ties readiness to Redis.
    ///
    /// ```no_run
    /// # async fn f(cache: boost_cache::Cache<String, String>) {
    /// // service.readiness_check("profiles_redis", move || {
    /// //     let cache = cache.clone();
    /// //     async move { cache.check_l2().await }
    /// // })
    /// let ready = cache.check_l2().await.is_ok();
    /// # let _ = ready;
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::SecondTier`](crate::Error::SecondTier) saying that Redis did not answer.
    pub async fn check_l2(&self) -> Result<(), crate::Error> {
        match &self.l2 {
            None => Ok(()),
            Some(l2) => l2.ping().await.map_err(|reason| crate::Error::SecondTier {
                cache: self.shared.settings.name.clone(),
                reason,
            }),
        }
    }

    /// The second tier's state, or `None` for a cache without one. Not tied to the
    /// service's readiness: a cache keeps answering (from memory and the loader) while
    /// Redis is down; a service that must not run without Redis can make this part of its
    /// readiness check.
    pub fn l2_status(&self) -> Option<L2Status> {
        self.l2.as_ref().map(|l2| l2.status())
    }

    /// Drops every cached answer for which `predicate(key, value)` is true; `value` is `None`
    /// for a cached "absent" answer. Applies to entries present now (not to later writes);
    /// removal happens lazily, as with [`invalidate_all`](Self::invalidate_all).
    pub fn invalidate_if<F>(&self, predicate: F)
    where
        F: Fn(&K, Option<&V>) -> bool + Send + Sync + 'static,
    {
        let result = self
            .inner
            .invalidate_entries_if(move |key, slot| predicate(key, slot.value.as_ref()));
        if let Err(error) = result {
            // Only possible if invalidation closures were not enabled, and the builder
            // always enables them.
            tracing::error!(cache = %self.shared.settings.name, %error, "cache invalidate_if failed");
        }
    }

    /// Runs moka's pending housekeeping now: applies pending evictions, expirations and
    /// invalidations (and counts them). Normally this happens on its own; tests and
    /// shutdown code call it to observe a settled state.
    pub async fn run_pending_tasks(&self) {
        self.inner.run_pending_tasks().await;
    }

    /// Whether this replica's memory (the in-process tier) holds an answer for `key`, a
    /// value or a cached absence. Never asks the second tier, never loads, not counted.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.inner.contains_key(key)
    }

    /// The approximate number of entries (values and cached absences), as of the last
    /// housekeeping.
    pub fn entry_count(&self) -> u64 {
        self.inner.entry_count()
    }

    /// The approximate memory the entries' keys and values hold, in bytes, as of the last
    /// housekeeping (an entry counts at least `max_bytes / max_capacity`; see
    /// [`CacheSettings::max_bytes`]). Never more than `max_bytes` once housekeeping has run.
    pub fn weighted_size(&self) -> u64 {
        self.inner.weighted_size()
    }

    /// The cache's name (its `cache` metric label).
    pub fn name(&self) -> &str {
        &self.shared.settings.name
    }

    /// The settings the cache was built from.
    pub fn settings(&self) -> &CacheSettings {
        &self.shared.settings
    }

    /// A new slot for `key` holding `value` (or an absence), with its jittered lifetime and
    /// its size.
    pub(crate) fn slot(&self, key: &K, value: Option<V>) -> Slot<V> {
        let settings = &self.shared.settings;
        let ttl = match value {
            Some(_) => settings.ttl,
            None => settings.negative_ttl,
        };
        Slot {
            bytes: self.slot_bytes(key, value.as_ref()),
            value,
            loaded_at: Instant::now(),
            ttl: ttl.map(|ttl| self.shared.jitter.apply(ttl)),
        }
    }

    /// The memory a slot for `key` holding `value` takes, in bytes.
    pub(crate) fn slot_bytes(&self, key: &K, value: Option<&V>) -> u32 {
        let bytes = size_of::<Slot<V>>()
            .saturating_add(key.byte_size())
            .saturating_add(value.map_or(0, ByteSize::byte_size));
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }

    /// Whether `slot` is small enough to store; counts it when it is not.
    pub(crate) fn fits(&self, slot: &Slot<V>) -> bool {
        self.fits_bytes(slot.bytes)
    }

    /// Whether an entry of `bytes` is small enough to store; counts it when it is not.
    pub(crate) fn fits_bytes(&self, bytes: u32) -> bool {
        let fits = u64::from(bytes) <= self.shared.max_entry_bytes;
        if !fits {
            self.shared.metrics.rejected_too_large.increment(1);
        }
        fits
    }

    /// Whether `slot` holds a value older than `refresh_after` (never, without refresh-ahead).
    pub(crate) fn is_due_for_refresh(&self, slot: &Slot<V>) -> bool {
        match self.shared.settings.refresh_after {
            Some(refresh_after) => slot.value.is_some() && is_older_than(slot, refresh_after),
            None => false,
        }
    }
}

/// Whether `slot` was loaded more than `age` ago.
fn is_older_than<V>(slot: &Slot<V>, age: Duration) -> bool {
    slot.loaded_at.elapsed() >= age
}
