//! [`CacheBuilder`]: the knobs that don't belong in a config file.

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use crate::cache::{Cache, Shared};
use crate::entry::{Slot, SlotExpiry};
use crate::jitter::Jitter;
use crate::metrics::CacheMetrics;
use crate::settings::CacheSettings;

/// The weight function of a weighted cache.
type Weigher<K, V> = Arc<dyn Fn(&K, &V) -> u32 + Send + Sync>;

/// Builds a [`Cache`] from [`CacheSettings`] plus code-only knobs. Start with
/// [`Cache::builder`].
///
/// ```
/// use boost_cache::{Cache, CacheSettings};
///
/// let mut settings = CacheSettings::new("avatars");
/// settings.max_capacity = 64 * 1024 * 1024; // bytes, because of the weigher below
/// let cache: Cache<u64, Vec<u8>> = Cache::builder(settings)
///     .weigher(|_id, bytes: &Vec<u8>| u32::try_from(bytes.len()).unwrap_or(u32::MAX))
///     .build()?;
/// # Ok::<(), boost_cache::Error>(())
/// ```
pub struct CacheBuilder<K, V> {
    settings: CacheSettings,
    weigher: Option<Weigher<K, V>>,
    seed: Option<u64>,
}

impl<K, V> fmt::Debug for CacheBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("settings", &self.settings)
            .field(
                "weigher",
                &self.weigher.as_ref().map(|_| "Fn(&K, &V) -> u32"),
            )
            .field("seed", &self.seed)
            .finish()
    }
}

impl<K, V> CacheBuilder<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A builder for a cache with `settings`.
    pub fn new(settings: CacheSettings) -> Self {
        Self {
            settings,
            weigher: None,
            seed: None,
        }
    }

    /// Measures entries with `weigher`, making `max_capacity` a total weight (bytes, say)
    /// instead of a number of entries. A cached "absent" answer weighs 1.
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u32 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Arc::new(weigher));
        self
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
    pub fn build(self) -> Result<Cache<K, V>, crate::Error> {
        let settings = self.settings;
        check(&settings)?;
        let metrics = Arc::new(CacheMetrics::register(&settings.name));

        let listener_metrics = Arc::clone(&metrics);
        let mut builder = moka::future::Cache::builder()
            .name(&settings.name)
            .max_capacity(settings.max_capacity)
            .support_invalidation_closures()
            .eviction_listener(move |_key, _slot, cause| listener_metrics.removed(cause));
        if settings.ttl.is_some() || settings.negative_ttl.is_some() {
            builder = builder.expire_after(SlotExpiry);
        }
        if let Some(tti) = settings.tti {
            builder = builder.time_to_idle(tti);
        }
        if let Some(weigher) = self.weigher {
            builder = builder.weigher(move |key, slot: &Slot<V>| {
                slot.value.as_ref().map_or(1, |value| weigher(key, value))
            });
        }

        let jitter = Jitter::new(settings.ttl_jitter, self.seed.unwrap_or_else(rand::random));
        Ok(Cache {
            inner: builder.build(),
            shared: Arc::new(Shared {
                settings,
                jitter,
                metrics,
                refreshing: Mutex::new(HashSet::new()),
            }),
        })
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
