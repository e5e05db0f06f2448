//! [`CacheBuilder`]: the knobs that don't belong in a config file.

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use crate::cache::{Cache, Shared};
use crate::entry::{L1Hasher, Slot, SlotExpiry};
use crate::jitter::Jitter;
use crate::metrics::CacheMetrics;
use crate::settings::CacheSettings;
use crate::size::ByteSize;

/// Builds a [`Cache`] from [`CacheSettings`] plus code-only knobs. Start with
/// [`Cache::builder`].
///
/// ```
/// use boost_cache::{Cache, CacheSettings};
///
/// let mut settings = CacheSettings::new("avatars");
/// settings.max_bytes = boost_config::ByteSize::mib(16); // measured by `ByteSize`
/// let cache: Cache<u64, Vec<u8>> = Cache::builder(settings).seed(7).build()?;
/// # Ok::<(), boost_cache::Error>(())
/// ```
pub struct CacheBuilder<K, V> {
    settings: CacheSettings,
    seed: Option<u64>,
    /// The value type's schema version, written with every second-tier entry.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    schema_version: u32,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> fmt::Debug for CacheBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("settings", &self.settings)
            .field("seed", &self.seed)
            .field("schema_version", &self.schema_version)
            .finish()
    }
}

impl<K, V> CacheBuilder<K, V>
where
    K: Hash + Eq + Clone + ByteSize + Send + Sync + 'static,
    V: Clone + ByteSize + Send + Sync + 'static,
{
    /// A builder for a cache with `settings`.
    pub fn new(settings: CacheSettings) -> Self {
        Self {
            settings,
            seed: None,
            schema_version: 0,
            types: PhantomData,
        }
    }

    /// Seeds the TTL jitter, making the sequence of entry lifetimes reproducible (for tests).
    /// Without it the seed is random.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Validates the settings and builds the cache, registering its metrics with the
    /// `metrics` recorder in scope now.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config), listing every rule the settings break (the
    /// same problems the config loader reports), each key under the cache's name.
    ///
    /// [`Error::SecondTier`](crate::Error::SecondTier) when the settings have an `l2`
    /// section: only [`build_two_tier`] (cargo feature `redis`) can set one up, and a cache
    /// silently without the tier its config asks for would hide a mistake.
    ///
    #[cfg_attr(feature = "redis", doc = "[`build_two_tier`]: Self::build_two_tier")]
    #[cfg_attr(
        not(feature = "redis"),
        doc = "[`build_two_tier`]: crate#a-shared-second-tier"
    )]
    pub fn build(self) -> Result<Cache<K, V>, crate::Error> {
        if self.settings.l2.is_some() {
            return Err(crate::Error::SecondTier {
                cache: self.settings.name.clone(),
                reason: if cfg!(feature = "redis") {
                    "the settings have an `l2` section, but the cache was built with \
                     `Cache::new`/`CacheBuilder::build`, which have no second tier; build it \
                     with `CacheBuilder::build_two_tier` (or `Cache::two_tier`), or remove the \
                     section"
                } else {
                    "the settings have an `l2` section, but boost-cache was built without its \
                     `redis` feature; enable it (boost: feature `cache-redis`) and build the \
                     cache with `Cache::two_tier`, or remove the section"
                }
                .to_owned(),
            });
        }
        self.build_l1().map(|(cache, _)| cache)
    }

    /// Validates the settings and builds the in-process tier, returning the jitter seed
    /// used (the second tier draws its own lifetimes from a sequence seeded from it).
    pub(crate) fn build_l1(self) -> Result<(Cache<K, V>, u64), crate::Error> {
        let settings = self.settings;
        check(&settings)?;
        let metrics = Arc::new(CacheMetrics::register(&settings.name));

        let budget = Budget::of(&settings);
        let listener_metrics = Arc::clone(&metrics);
        let mut builder = moka::future::Cache::builder()
            .name(&settings.name)
            .max_capacity(budget.max_bytes)
            .weigher(move |_key, slot: &Slot<V>| slot.bytes.max(budget.entry_floor))
            .support_invalidation_closures()
            .eviction_listener(move |_key, slot: Slot<V>, cause| {
                listener_metrics.removed(cause, slot.bytes);
            });
        if settings.ttl.is_some() || settings.negative_ttl.is_some() {
            builder = builder.expire_after(SlotExpiry);
        }
        if let Some(tti) = settings.tti {
            builder = builder.time_to_idle(tti);
        }

        let seed = self.seed.unwrap_or_else(rand::random);
        let jitter = Jitter::new(settings.ttl_jitter, seed);
        let cache = Cache {
            inner: builder.build_with_hasher(L1Hasher::default()),
            shared: Arc::new(Shared {
                settings,
                jitter,
                metrics,
                refreshing: Mutex::new(HashSet::new()),
                max_entry_bytes: budget.max_entry_bytes,
            }),
            l2: None,
        };
        Ok((cache, seed))
    }
}

/// The two bounds of [`CacheSettings`] as one moka weight: each entry weighs its bytes but
/// at least `max_bytes / max_capacity`, so the total weight (at most `max_bytes`) bounds
/// both the bytes held and the number of entries.
#[derive(Debug, Clone, Copy)]
struct Budget {
    max_bytes: u64,
    entry_floor: u32,
    max_entry_bytes: u64,
}

impl Budget {
    fn of(settings: &CacheSettings) -> Self {
        let max_bytes = settings.max_bytes.as_u64().max(1);
        let entries = settings.max_capacity.max(1);
        let floor = max_bytes.div_ceil(entries).max(1);
        // Rounded down, so an entry "at most 1%" of the budget never exceeds it; moka weighs
        // an entry in a u32.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let share = (max_bytes as f64 * settings.max_entry_share.clamp(0.0, 1.0)) as u64;
        Self {
            max_bytes,
            entry_floor: u32::try_from(floor).unwrap_or(u32::MAX),
            max_entry_bytes: share.min(u64::from(u32::MAX)),
        }
    }
}

/// Runs the settings' [`Validate`](boost_config::Validate) rules, keys under the cache's name.
fn check(settings: &CacheSettings) -> Result<(), crate::Error> {
    let name = settings.name.trim();
    let (section, subject) = if name.is_empty() {
        ("cache", "a cache without a name".to_owned())
    } else {
        (name, format!("cache `{name}`"))
    };
    boost_config::Problems::of(section, settings)
        .into_result(subject)
        .map_err(crate::Error::Config)
}

#[cfg(feature = "redis")]
impl<K, V> CacheBuilder<K, V>
where
    K: Hash + Eq + Clone + ByteSize + std::fmt::Display + std::str::FromStr + Send + Sync + 'static,
    V: Clone + ByteSize + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    /// The version of the value type's layout, written with every second-tier entry: an
    /// entry written under another version is a miss (counted in
    /// `cache_l2_errors_total{reason="schema"}`), never a misread value. Bump it whenever `V`
    /// changes in a way its serde form does not absorb (a field added, removed, retyped or
    /// reordered), so replicas of the old and the new release can share one Redis during a
    /// rollout. Default: `0`.
    pub fn schema_version(mut self, version: u32) -> Self {
        self.schema_version = version;
        self
    }

    /// Builds the cache with the shared second tier its settings' `l2` section describes
    /// (plain in-process cache when the section is absent), registering its metrics.
    ///
    /// Keys reach Redis as `<key_prefix><name>:<key>` (their `Display`; `FromStr` reads
    /// them back from invalidation messages), values as postcard behind a small versioned
    /// header. Nothing is dialled here: connections are made on first use, so a cache
    /// builds (and its service starts) while Redis is down. Must run inside a Tokio
    /// runtime: it spawns the task that listens for other replicas' invalidations.
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) as for [`build`](Self::build);
    /// [`Error::SecondTier`](crate::Error::SecondTier) outside a Tokio runtime or when
    /// `l2.url` cannot be used.
    pub fn build_two_tier(self) -> Result<Cache<K, V>, crate::Error> {
        let schema = self.schema_version;
        let has_l2 = self.settings.l2.is_some();
        let (cache, seed) = self.build_l1()?;
        if !has_l2 {
            return Ok(cache);
        }
        crate::l2::attach(cache, seed, schema)
    }
}
