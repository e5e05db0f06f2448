//! [`CacheSettings`]: the knobs of one cache, as they appear in a config file.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The settings of one [`Cache`](crate::Cache), usually a section of the service's config file.
///
/// ```toml
/// [profile_cache]
/// name = "profiles"        # required: the `cache` label of every metric
/// max_capacity = 10000     # entries (or weight units with a weigher)
/// ttl = "5m"               # a value is reloaded at most this long after it was loaded
/// ttl_jitter = 0.05        # ±5% per entry, so entries loaded together don't expire together
/// negative_ttl = "30s"     # "not found" answers are remembered this long
/// refresh_after = "4m"     # a hit older than this reloads in the background
/// ```
///
/// Every field has a default (see [`Default`]); only `name` must be set. The struct is
/// `#[non_exhaustive]` so that knobs (for instance a shared second tier) can be added later
/// without breaking anyone: build it with [`CacheSettings::new`] or `Default` and assign fields.
/// [`CacheSettings::validate`] (called by [`Cache::builder`](crate::Cache::builder)'s `build`)
/// rejects contradictory combinations with an error naming the field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CacheSettings {
    /// The cache's name: the `cache` label on every `cache_*` metric, and the name in log lines
    /// and errors. Required (no default); keep it short, stable and low-cardinality
    /// (`"profiles"`, not a per-request value).
    pub name: String,

    /// The most the cache holds: a number of entries, or — when a weigher is set with
    /// [`CacheBuilder::weigher`](crate::CacheBuilder::weigher) — a total weight (e.g. bytes).
    /// Beyond it the least valuable entries are evicted (TinyLFU admission, LRU eviction;
    /// counted as `cause="size"`). Default: `10000`.
    pub max_capacity: u64,

    /// Time to live: an entry is dropped this long after it was loaded or inserted (counted as
    /// `cause="expired"`), whether it is read or not. Bounds how stale a value can be.
    /// Default: none (entries live until evicted for size or invalidated).
    #[serde(with = "humantime_serde")]
    pub ttl: Option<Duration>,

    /// Time to idle: an entry is dropped when it has not been read or written for this long.
    /// Keeps rarely-used keys from taking room. Not jittered. Default: none.
    #[serde(with = "humantime_serde")]
    pub tti: Option<Duration>,

    /// Spread of `ttl` and `negative_ttl` per entry, as a fraction: each entry gets a lifetime
    /// drawn uniformly from `ttl × (1 ± ttl_jitter)`, so entries loaded together (a deploy, a
    /// warm-up) don't all expire at the same instant and stampede the source. Between `0.0`
    /// (off) and `0.5`. Default: `0.05` (±5%).
    pub ttl_jitter: f64,

    /// How long a loader's "absent" answer (`Ok(None)`) is remembered, so repeated lookups of a
    /// key that does not exist don't reach the source (penetration). Jittered like `ttl`.
    /// Default: none — absent answers are coalesced between concurrent callers but not cached,
    /// because caching them means a newly created item looks missing for up to this long.
    /// Typical: a few seconds to a minute.
    #[serde(with = "humantime_serde")]
    pub negative_ttl: Option<Duration>,

    /// Refresh-ahead: a [`get_or_load`](crate::Cache::get_or_load) hit on a value loaded longer
    /// ago than this returns the value at once and starts one background reload of that key
    /// (counted as `result="stale"`). Hot keys then never expire in callers' faces. Must be less
    /// than `ttl` when both are set. Default: none (no refresh-ahead).
    #[serde(with = "humantime_serde")]
    pub refresh_after: Option<Duration>,
}

/// Default capacity, in entries.
const DEFAULT_MAX_CAPACITY: u64 = 10_000;
/// Default TTL jitter: ±5%.
const DEFAULT_TTL_JITTER: f64 = 0.05;
/// Largest accepted jitter: beyond ±50% a TTL no longer means much.
const MAX_TTL_JITTER: f64 = 0.5;
/// Longest accepted duration: moka refuses lifetimes over 1000 years, and a jittered
/// lifetime must not overflow. Longer means "never": leave the setting unset.
const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            name: String::new(),
            max_capacity: DEFAULT_MAX_CAPACITY,
            ttl: None,
            tti: None,
            ttl_jitter: DEFAULT_TTL_JITTER,
            negative_ttl: None,
            refresh_after: None,
        }
    }
}

impl CacheSettings {
    /// Default settings for a cache called `name`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use boost_cache::CacheSettings;
    ///
    /// let mut settings = CacheSettings::new("profiles");
    /// settings.ttl = Some(Duration::from_secs(300));
    /// assert!(settings.validate().is_ok());
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Checks the settings and says which field is wrong and how to fix it.
    pub fn validate(&self) -> Result<(), Error> {
        if self.name.trim().is_empty() {
            return Err(Error::MissingName);
        }
        let invalid = |field: &'static str, problem: String| Error::InvalidSetting {
            cache: self.name.clone(),
            field,
            problem,
        };
        if self.max_capacity == 0 {
            return Err(invalid(
                "max_capacity",
                "is 0, so nothing could be cached; set it to the number of entries \
                 (or total weight) to keep"
                    .to_owned(),
            ));
        }
        for (field, value) in [
            ("ttl", self.ttl),
            ("tti", self.tti),
            ("negative_ttl", self.negative_ttl),
            ("refresh_after", self.refresh_after),
        ] {
            if value == Some(Duration::ZERO) {
                return Err(invalid(
                    field,
                    "is 0s; leave it unset to turn it off, or give a positive duration".to_owned(),
                ));
            }
            if value.is_some_and(|d| d > MAX_DURATION) {
                return Err(invalid(
                    field,
                    "is longer than 100 years; leave it unset for \"never\", or give a shorter \
                     duration"
                        .to_owned(),
                ));
            }
        }
        if !(0.0..=MAX_TTL_JITTER).contains(&self.ttl_jitter) {
            return Err(invalid(
                "ttl_jitter",
                format!(
                    "is {}; it is a fraction of ttl and must be between 0.0 and {MAX_TTL_JITTER} \
                     (0.05 means ±5%)",
                    self.ttl_jitter
                ),
            ));
        }
        if let (Some(refresh_after), Some(ttl)) = (self.refresh_after, self.ttl)
            && refresh_after >= ttl
        {
            return Err(invalid(
                "refresh_after",
                format!(
                    "is {refresh_after:?} but ttl is {ttl:?}: entries would expire before they \
                     are refreshed; set refresh_after below ttl (e.g. 80% of it)"
                ),
            ));
        }
        if let (Some(refresh_after), Some(ttl)) = (self.refresh_after, self.ttl)
            && refresh_after.as_secs_f64() >= ttl.as_secs_f64() * (1.0 - self.ttl_jitter)
        {
            return Err(invalid(
                "refresh_after",
                format!(
                    "is {refresh_after:?} but with ttl_jitter {} an entry may expire after \
                     {:?}; set refresh_after below that",
                    self.ttl_jitter,
                    ttl.mul_f64(1.0 - self.ttl_jitter)
                ),
            ));
        }
        Ok(())
    }
}
