//! [`CacheSettings`]: the knobs of one cache, as they appear in a config file.

use std::time::Duration;

use boost_config::{ByteSize, Problems};
use serde::{Deserialize, Serialize};

use crate::l2_settings::L2Settings;

/// The settings of one [`Cache`](crate::Cache), usually a section of the service's config file.
///
/// ```toml
/// [profile_cache]
/// name = "profiles"        # required: the `cache` label of every metric
/// max_capacity = 10000     # entries
/// max_bytes = "64 MiB"     # memory the keys and values may hold, all together
/// max_entry_share = 0.01   # a value bigger than 1% of max_bytes is served but not cached
/// ttl = "5m"               # a value is reloaded at most this long after it was loaded
/// ttl_jitter = 0.05        # ±5% per entry, so entries loaded together don't expire together
/// negative_ttl = "30s"     # "not found" answers are remembered this long
/// refresh_after = "4m"     # a hit older than this reloads in the background
/// ```
///
/// Every field has a default (see [`Default`]); only `name` must be set. The struct is
/// `#[non_exhaustive]` so that knobs (for instance a shared second tier) can be added later
/// without breaking anyone: build it with [`CacheSettings::new`] or `Default` and assign fields.
///
/// Its [`Validate`](boost_config::Validate) rules report every value that cannot work, alone or
/// with another setting, each under its key: the config loader runs them (keys such as
/// `profile_cache.ttl_jitter`), and so do [`Cache::new`](crate::Cache::new) and
/// [`CacheBuilder::build`](crate::CacheBuilder::build) (keys under the cache's name,
/// `profiles.ttl_jitter`), so a cache built in code gets the same problem list:
///
/// ```
/// use std::time::Duration;
/// use boost_cache::CacheSettings;
/// use boost_config::Problems;
///
/// let mut settings = CacheSettings::new("profiles");
/// settings.ttl = Some(Duration::from_secs(60));
/// settings.refresh_after = Some(Duration::from_secs(90));
/// settings.max_capacity = 0;
/// let problems = Problems::of("profile_cache", &settings);
/// assert_eq!(
///     problems.keys().collect::<Vec<_>>(),
///     ["profile_cache.max_capacity", "profile_cache.refresh_after"]
/// );
/// ```
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[validate(custom = rules)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CacheSettings {
    /// The cache's name: the `cache` label of every `cache_*` metric, and the name in its log
    /// lines and errors. Keep it short, stable and low-cardinality (`"profiles"`, never a
    /// per-request value). Required: there is no default.
    pub name: String,

    /// The most entries the cache holds (values and cached absences). Beyond it, or beyond
    /// `max_bytes`, the least valuable entries are evicted (TinyLFU admission, LRU eviction;
    /// counted in `cache_evictions_total{cause="size"}`). At least 1. Default: `10000`.
    pub max_capacity: u64,

    /// The most memory the cache's keys and values may hold, all together, as measured by
    /// their [`ByteSize`](crate::ByteSize) (e.g. `"64 MiB"`, `"512KiB"`). Both bounds hold:
    /// each entry counts as at least `max_bytes / max_capacity`, so the cache never holds
    /// more than `max_capacity` entries nor more than `max_bytes`. At least 1 KiB.
    /// Default: `"64 MiB"`.
    pub max_bytes: ByteSize,

    /// The largest share of `max_bytes` one entry may take: a bigger value is returned to
    /// its callers but not cached (counted in `cache_rejected_total{reason="too_large"}`),
    /// so a few huge answers cannot push out thousands of ordinary ones. More than `0.0`
    /// and at most `1.0`. Default: `0.01` (with the default budget, values up to 671 KB).
    pub max_entry_share: f64,

    /// Time to live: an entry is dropped this long after it was loaded or inserted, whether it
    /// is read or not (counted as `cause="expired"`), so no value served is older. Jittered by
    /// `ttl_jitter`. More than `0s` and at most a year. Default: unset (entries live until
    /// evicted for size or invalidated).
    #[serde(with = "humantime_serde")]
    pub ttl: Option<Duration>,

    /// Time to idle: an entry nobody has read or written for this long is dropped, so rarely
    /// used keys don't take room. Not jittered. More than `0s` and at most a year.
    /// Default: unset (off).
    #[serde(with = "humantime_serde")]
    pub tti: Option<Duration>,

    /// Spread of each entry's `ttl` and `negative_ttl`, as a fraction: every entry lives
    /// `ttl × (1 ± ttl_jitter)`, drawn at random, so entries loaded together (a deploy, a
    /// warm-up) don't expire together and stampede the source. From `0.0` (off) to `0.5`.
    /// Default: `0.05` (±5%).
    pub ttl_jitter: f64,

    /// How long a "not found" answer from the source is remembered, so lookups of a key that
    /// does not exist don't all reach the source (penetration). Jittered like `ttl`. Keeping
    /// such answers means a newly created item looks missing for up to this long; typical
    /// values are a few seconds to a minute. More than `0s` and at most a year.
    /// Default: unset (callers looking up a missing key at the same time share one answer,
    /// but it is not kept).
    #[serde(with = "humantime_serde")]
    pub negative_ttl: Option<Duration>,

    /// Refresh-ahead: a lookup that finds a value loaded longer ago than this returns it at
    /// once and reloads that key in the background (counted as `result="stale"`), so hot keys
    /// never expire in callers' faces. With `ttl` set it must be shorter than the shortest
    /// jittered lifetime, `ttl × (1 - ttl_jitter)` (e.g. 80% of `ttl`). Default: unset (no
    /// refresh-ahead).
    #[serde(with = "humantime_serde")]
    pub refresh_after: Option<Duration>,

    /// A shared second tier on Redis, between this in-process cache and the loader: every
    /// replica reads and writes it, so a value one replica loaded is a hit for the others,
    /// and `invalidate` reaches every replica. Needs the cache to be built with
    /// `CacheBuilder::build_two_tier` (cargo feature `redis`). Default: unset (in-process only).
    pub l2: Option<L2Settings>,
}

/// Default capacity, in entries.
const DEFAULT_MAX_CAPACITY: u64 = 10_000;
/// Default memory budget: room for 10,000 entries of 6 KiB, and small beside a service's heap.
const DEFAULT_MAX_BYTES: ByteSize = ByteSize::mib(64);
/// Default share of the budget one entry may take.
const DEFAULT_MAX_ENTRY_SHARE: f64 = 0.01;
/// Smallest accepted budget: below it no ordinary key and value fit.
const MIN_MAX_BYTES: ByteSize = ByteSize::kib(1);
/// Default TTL jitter: ±5%.
const DEFAULT_TTL_JITTER: f64 = 0.05;
/// Largest accepted jitter: beyond ±50% a TTL no longer means much.
const MAX_TTL_JITTER: f64 = 0.5;

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            name: String::new(),
            max_capacity: DEFAULT_MAX_CAPACITY,
            max_bytes: DEFAULT_MAX_BYTES,
            max_entry_share: DEFAULT_MAX_ENTRY_SHARE,
            ttl: None,
            tti: None,
            ttl_jitter: DEFAULT_TTL_JITTER,
            negative_ttl: None,
            refresh_after: None,
            l2: None,
        }
    }
}

impl CacheSettings {
    /// Default settings for a cache called `name`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use boost_cache::CacheSettings;
    /// use boost_config::Problems;
    ///
    /// let mut settings = CacheSettings::new("profiles");
    /// settings.ttl = Some(Duration::from_secs(300));
    /// assert!(Problems::of("profiles", &settings).is_empty());
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

/// The rules of [`CacheSettings`] beyond each field's type; every broken one is reported.
fn rules(settings: &CacheSettings, problems: &mut Problems) {
    l2_rules(settings, problems);
    if settings.name.trim().is_empty() {
        problems.add(
            "name",
            "is empty: every cache needs a short, stable name (it is the `cache` label of its \
             metrics), e.g. name = \"profiles\"",
        );
    }
    if settings.max_capacity == 0 {
        problems.add(
            "max_capacity",
            "is 0, so nothing could be cached; set it to the number of entries (or total weight) \
             to keep",
        );
    }
    if settings.max_bytes < MIN_MAX_BYTES {
        problems.add(
            "max_bytes",
            format!(
                "is {}, too small to hold anything; give the memory the cache may use, \
                 e.g. max_bytes = \"64 MiB\" (at least {MIN_MAX_BYTES})",
                settings.max_bytes
            ),
        );
    }
    // `contains` is false for NaN too.
    if !(settings.max_entry_share > 0.0 && settings.max_entry_share <= 1.0) {
        problems.add(
            "max_entry_share",
            format!(
                "is {}; it is the largest fraction of max_bytes one entry may take and must be \
                 more than 0.0 and at most 1.0 (0.01 means 1%)",
                settings.max_entry_share
            ),
        );
    }
    for (key, value) in [
        ("ttl", settings.ttl),
        ("tti", settings.tti),
        ("negative_ttl", settings.negative_ttl),
        ("refresh_after", settings.refresh_after),
    ] {
        if value == Some(Duration::ZERO) {
            problems.add(
                key,
                "is 0s; leave it unset to turn it off, or give a positive duration",
            );
        }
        // Longer than boost_config::MAX_DURATION (a year) is reported by the Duration's own rule.
    }
    // `contains` is false for NaN too.
    let jitter_ok = (0.0..=MAX_TTL_JITTER).contains(&settings.ttl_jitter);
    if !jitter_ok {
        problems.add(
            "ttl_jitter",
            format!(
                "is {}; it is a fraction of ttl and must be between 0.0 and {MAX_TTL_JITTER} \
                 (0.05 means ±5%)",
                settings.ttl_jitter
            ),
        );
    }
    if let (Some(refresh_after), Some(ttl)) = (settings.refresh_after, settings.ttl)
        && !refresh_after.is_zero()
    {
        if refresh_after >= ttl {
            problems.add(
                "refresh_after",
                format!(
                    "is {} but ttl is {}: entries would expire before they are refreshed; set \
                     refresh_after below ttl (e.g. 80% of it)",
                    humantime::format_duration(refresh_after),
                    humantime::format_duration(ttl),
                ),
            );
        } else if jitter_ok
            && refresh_after.as_secs_f64() >= ttl.as_secs_f64() * (1.0 - settings.ttl_jitter)
        {
            let shortest = ttl.mul_f64(1.0 - settings.ttl_jitter);
            problems.add(
                "refresh_after",
                format!(
                    "is {} but with ttl_jitter {} an entry may expire after {}; set refresh_after \
                     below that",
                    humantime::format_duration(refresh_after),
                    settings.ttl_jitter,
                    humantime::format_duration(round_to_millis(shortest)),
                ),
            );
        }
    }
}

/// The second tier's rules that depend on the cache's own settings.
fn l2_rules(settings: &CacheSettings, problems: &mut Problems) {
    let Some(l2) = &settings.l2 else {
        return;
    };
    if l2.ttl.is_none() && settings.ttl.is_none() {
        problems.add(
            "l2.ttl",
            "is unset and so is ttl: entries in Redis need a lifetime; set l2.ttl (e.g. \"30m\") \
             or ttl",
        );
    }
}

/// `duration` without its sub-millisecond part, for messages.
fn round_to_millis(duration: Duration) -> Duration {
    Duration::from_millis(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}
