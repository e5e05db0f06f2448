//! [`L2Settings`]: the optional shared second tier of a cache, as it appears in a config file.

use std::time::Duration;

use boost_config::{ByteSize, Endpoint, Problems};
use serde::{Deserialize, Serialize};

/// Which engine the shared second tier runs on.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    boost_config::Validate,
    boost_config::Document,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum L2Backend {
    /// Redis (or a Redis-protocol server such as Valkey), through the `redis` cargo feature.
    #[default]
    Redis,
}

/// The shared second tier (L2) of a cache: a Redis every replica reads and writes, between
/// the in-process tier (L1) and the loader. See the [crate guide](crate#a-shared-second-tier).
///
/// ```toml
/// [profile_cache.l2]
/// backend = "redis"
/// url = "redis://redis.default.svc:6379/0"
/// key_prefix = "hello:"       # keys are "<key_prefix><cache name>:<key>"
/// ttl = "30m"                 # unset: the cache's ttl
/// negative_ttl = "30s"        # unset: the cache's negative_ttl
/// timeout = "50ms"            # per Redis command; past it the loader answers
/// coalesce = true             # one replica loads a cold key, the others wait for it
/// ```
///
/// Every field has a default; only a cache whose section has an `l2` table uses a second
/// tier, and only when built with [`CacheBuilder::build_two_tier`] (cargo feature `redis`).
///
#[cfg_attr(
    feature = "redis",
    doc = "[`CacheBuilder::build_two_tier`]: crate::CacheBuilder::build_two_tier"
)]
#[cfg_attr(
    not(feature = "redis"),
    doc = "[`CacheBuilder::build_two_tier`]: crate#a-shared-second-tier"
)]
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[validate(custom = rules)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct L2Settings {
    /// The engine: `"redis"` (the only one). Default: `"redis"`.
    pub backend: L2Backend,

    /// The Redis URL, `redis://[user:password@]host:port[/db]`; credentials in it are masked
    /// wherever it is shown. (`rediss://`, TLS, is not supported yet.) Default:
    /// `"redis://127.0.0.1:6379"`.
    pub url: Endpoint,

    /// Prepended to every Redis key and channel of this cache: keys are
    /// `<key_prefix><cache name>:<key>`, so services sharing one Redis don't collide.
    /// At most 128 bytes. Default: empty.
    pub key_prefix: String,

    /// How long a value lives in Redis, jittered by the cache's `ttl_jitter`. Unset: the
    /// cache's `ttl`; one of the two must be set (entries without a lifetime would fill Redis).
    /// More than `0s`. Default: unset.
    #[serde(with = "humantime_serde")]
    pub ttl: Option<Duration>,

    /// How long a "not found" answer lives in Redis, jittered. Unset: the cache's
    /// `negative_ttl`; with neither, absences are not written to Redis. More than `0s`.
    /// Default: unset.
    #[serde(with = "humantime_serde")]
    pub negative_ttl: Option<Duration>,

    /// The longest one Redis command may take; past it (or on any Redis error) the lookup
    /// falls back to the loader, counted in `cache_l2_errors_total`. More than `0s`, at most
    /// `10s`. Default: `100ms`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,

    /// The longest connecting to Redis may take. More than `0s`, at most `30s`.
    /// Default: `500ms`.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,

    /// Connections to Redis, each multiplexing any number of commands; 1 to 64. Default: `2`.
    pub pool_size: u32,

    /// The largest encoded value read from or written to Redis: a bigger one is not written,
    /// and one read bigger counts as a miss (`cache_l2_errors_total{reason="too_large"}`).
    /// At least 64 B, at most 512 MiB. Default: `"1 MiB"`.
    pub max_value_bytes: ByteSize,

    /// The longest key (`key_prefix`, cache name and key, in bytes) sent to Redis; a lookup
    /// of a longer key skips the second tier (`reason="key_too_long"`). 16 to 65536.
    /// Default: `512`.
    pub max_key_bytes: u32,

    /// Coalescing across replicas: on a miss in Redis, a replica takes a short lease on the
    /// key (`SET NX PX`) and loads it; the others wait up to `lease` for its value instead of
    /// loading too, so a cold fleet loads each key once. Default: `false`.
    pub coalesce: bool,

    /// How long a coalescing lease lasts, and so the longest other replicas wait for its
    /// holder's value before loading themselves. Make it longer than a typical load. More
    /// than `0s`, at most `1m`. Default: `2s`.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,

    /// Consecutive Redis failures after which the second tier is bypassed (the circuit
    /// opens) for `open_for`; then one lookup probes it. At least 1. Default: `5`.
    pub failure_threshold: u32,

    /// How long the second tier is bypassed once the circuit opens. More than `0s`, at most
    /// `10m`. Default: `5s`.
    #[serde(with = "humantime_serde")]
    pub open_for: Duration,
}

impl Default for L2Settings {
    fn default() -> Self {
        Self {
            backend: L2Backend::Redis,
            url: Endpoint::new("redis://127.0.0.1:6379"),
            key_prefix: String::new(),
            ttl: None,
            negative_ttl: None,
            timeout: Duration::from_millis(100),
            connect_timeout: Duration::from_millis(500),
            pool_size: 2,
            max_value_bytes: ByteSize::mib(1),
            max_key_bytes: 512,
            coalesce: false,
            lease: Duration::from_secs(2),
            failure_threshold: 5,
            open_for: Duration::from_secs(5),
        }
    }
}

impl L2Settings {
    /// Default second-tier settings for a Redis at `url`.
    ///
    /// ```
    /// use boost_cache::L2Settings;
    ///
    /// let l2 = L2Settings::redis("redis://127.0.0.1:6379");
    /// assert_eq!(l2.url.expose(), "redis://127.0.0.1:6379");
    /// ```
    pub fn redis(url: impl Into<String>) -> Self {
        Self {
            url: Endpoint::new(url),
            ..Self::default()
        }
    }
}

/// The most a key prefix may hold, in bytes.
pub(crate) const MAX_KEY_PREFIX: usize = 128;

/// The rules of [`L2Settings`] beyond each field's type.
fn rules(settings: &L2Settings, problems: &mut Problems) {
    let url = settings.url.expose();
    if !url.starts_with("redis://") {
        problems.add(
            "url",
            format!(
                "is {}; give a redis:// URL such as \"redis://127.0.0.1:6379\" (rediss:// is \
                 not supported yet)",
                settings.url
            ),
        );
    }
    if settings.key_prefix.len() > MAX_KEY_PREFIX {
        problems.add(
            "key_prefix",
            format!(
                "is {} bytes long; keep it under {MAX_KEY_PREFIX} (e.g. \"hello:\")",
                settings.key_prefix.len()
            ),
        );
    }
    for (key, value, max) in [
        ("ttl", settings.ttl, None),
        ("negative_ttl", settings.negative_ttl, None),
        (
            "timeout",
            Some(settings.timeout),
            Some(Duration::from_secs(10)),
        ),
        (
            "connect_timeout",
            Some(settings.connect_timeout),
            Some(Duration::from_secs(30)),
        ),
        ("lease", Some(settings.lease), Some(Duration::from_secs(60))),
        (
            "open_for",
            Some(settings.open_for),
            Some(Duration::from_secs(600)),
        ),
    ] {
        if value == Some(Duration::ZERO) {
            problems.add(key, "is 0s; give a positive duration");
        } else if let (Some(value), Some(max)) = (value, max)
            && value > max
        {
            problems.add(
                key,
                format!(
                    "is {}; at most {} makes sense here",
                    humantime::format_duration(value),
                    humantime::format_duration(max)
                ),
            );
        }
    }
    if !(1..=64).contains(&settings.pool_size) {
        problems.add(
            "pool_size",
            format!("is {}; give 1 to 64 connections", settings.pool_size),
        );
    }
    if settings.max_value_bytes < ByteSize::b(64) || settings.max_value_bytes > ByteSize::mib(512) {
        problems.add(
            "max_value_bytes",
            format!(
                "is {}; give 64 B to 512 MiB (e.g. \"1 MiB\")",
                settings.max_value_bytes
            ),
        );
    }
    if !(16..=65_536).contains(&settings.max_key_bytes) {
        problems.add(
            "max_key_bytes",
            format!("is {}; give 16 to 65536 bytes", settings.max_key_bytes),
        );
    }
    if settings.failure_threshold == 0 {
        problems.add(
            "failure_threshold",
            "is 0; give the number of consecutive failures that opens the circuit (e.g. 5)",
        );
    }
}
