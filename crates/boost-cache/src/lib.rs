//! In-process caches that protect the source behind them and show how they are doing.
//!
//! A [`Cache`] is a [moka](https://docs.rs/moka) cache with the usual production bugs
//! designed out: concurrent misses for one key run the loader once (no stampede), "not
//! found" answers can be cached (no penetration), lifetimes are jittered (no avalanche),
//! hot keys can be refreshed before they expire, and every lookup, load and eviction is
//! counted under the cache's name.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use boost_cache::{Cache, CacheSettings};
//!
//! # #[derive(Debug)] struct DbError;
//! # struct Db;
//! # impl Db { async fn find_profile(&self, _name: &str) -> Result<Option<String>, DbError> { Ok(Some("en".into())) } }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Arc::new(Db);
//!
//! let mut settings = CacheSettings::new("profiles"); // the `cache` metric label
//! settings.max_capacity = 10_000;
//! settings.ttl = Some(Duration::from_secs(300));
//! settings.negative_ttl = Some(Duration::from_secs(30));
//! let profiles: Cache<String, String> = Cache::new(settings)?;
//!
//! // A miss runs the loader (once, however many callers miss at the same time);
//! // `Ok(None)` means "no such profile" and is remembered for `negative_ttl`.
//! let name = "ada".to_owned();
//! let language = profiles
//!     .get_or_load(name.clone(), {
//!         let db = Arc::clone(&db);
//!         move || async move { db.find_profile(&name).await }
//!     })
//!     .await
//!     .map_err(|e| format!("profile lookup failed: {e:?}"))?;
//! assert_eq!(language.as_deref(), Some("en"));
//!
//! // Later calls are served from memory.
//! assert_eq!(profiles.get("ada").await.as_deref(), Some("en"));
//! # Ok(())
//! # }
//! ```
//!
//! # The knobs ([`CacheSettings`])
//!
//! | setting         | default | what it buys                                                 |
//! |-----------------|---------|--------------------------------------------------------------|
//! | `name`          | —       | required; the `cache` label of every metric                  |
//! | `max_capacity`  | 10000   | bound on the number of entries                                |
//! | `max_bytes`     | 64 MiB  | bound on the memory keys and values hold ([`ByteSize`])       |
//! | `max_entry_share` | 0.01  | a value over 1% of `max_bytes` is served but not cached       |
//! | `ttl`           | none    | bound on staleness                                            |
//! | `tti`           | none    | drop keys nobody reads                                        |
//! | `ttl_jitter`    | 0.05    | ±5% per entry, so a batch of entries doesn't expire at once   |
//! | `negative_ttl`  | none    | remember "absent" so missing keys don't reach the source     |
//! | `refresh_after` | none    | reload hot keys in the background before `ttl`                |
//!
//! Settings deserialize from a config file (durations in human form: `"5m"`, `"250ms"`) and
//! implement [`boost_config::Validate`] and [`boost_config::Document`]: the config loader
//! reports every value that cannot work under its key (`profile_cache.refresh_after`), and
//! the settings' doc comments become the comments of the generated reference config. Building
//! a cache runs the same rules, so settings made in code get the same problem list, as
//! [`Error::Config`]: an empty name, `max_capacity = 0`, a budget under 1 KiB, a share outside
//! `(0, 1]`, a zero or over-a-year duration, `refresh_after >= ttl` (or within the jitter of
//! it), a jitter outside `0..=0.5`. The one code-only knob — a fixed jitter seed for tests —
//! is on [`CacheBuilder`].
//!
//! # Memory
//!
//! A cache holds at most `max_capacity` entries **and** at most `max_bytes` of keys and
//! values, measured by their [`ByteSize`] (implemented for strings, vectors, maps, `Arc`,
//! `Option`, tuples and numbers; one method for a type of your own). Counting entries alone
//! is not a bound: an upstream answering 4 MiB values would grow a 10,000-entry cache to
//! 40 GB. An answer larger than `max_entry_share` of the budget is returned to every caller
//! waiting for it but not stored (counted in `cache_rejected_total{reason="too_large"}`), so a
//! few huge answers cannot push out thousands of ordinary ones; `cache_bytes` shows the
//! memory held.
//!
//! # Loading
//!
//! [`Cache::get_or_load`] takes the key and a loader closure returning a future of
//! `Result<Option<V>, E>`:
//!
//! - `Ok(Some(v))` is cached for `ttl` (jittered) and returned;
//! - `Ok(None)` — the source says the key does not exist — is cached for `negative_ttl`
//!   when set (else only shared with the callers waiting on that load) and returned as
//!   `Ok(None)`;
//! - `Err(e)` is returned to every waiting caller as the same `Arc<E>` and **not** cached:
//!   the next call runs the loader again.
//!
//! With `refresh_after`, a `get_or_load` hit on a value older than that returns the value
//! at once and spawns the loader (one per key at a time) on the current Tokio runtime; if
//! it fails, the old value keeps being served until its `ttl`. [`Cache::get`] never loads
//! or refreshes. That is why loaders are `Send + 'static`: they may outlive the call.
//!
//! # Metrics
//!
//! Names from [`boost_metrics::conventions`], all labelled `cache="<name>"`:
//! `cache_requests_total{tier="l1",result="hit|miss|stale"}` (and `tier="l2"` with a
//! [second tier](#a-shared-second-tier)), `cache_loads_total{outcome="ok|error|absent"}`,
//! `cache_load_duration_seconds`, `cache_evictions_total{cause="size|expired|explicit|replaced"}`,
//! `cache_rejected_total{reason="too_large"}` and the `cache_entries` and `cache_bytes` gauges. Handles are taken once, when the cache is built, from the
//! `metrics` recorder in scope then (a service's recorder is installed when its
//! `boost_service::Service` is made, before it can build anything). Recording a hit is one
//! atomic add.
//!
//! # Edge cases
//!
//! - A cached absence is a hit: `get` returns `None` for it and counts `result="hit"`.
//! - `invalidate_all` and `invalidate_if` take effect at once for readers but free memory
//!   (and count `cause="explicit"`) during moka's housekeeping; call
//!   [`Cache::run_pending_tasks`] to force it.
//! - A background refresh that finds the key invalidated, expired, or rewritten since it
//!   started drops its result rather than resurrect or overwrite the entry.
//! - `cache_entries` counts entries written minus entries removed, so it is exact once
//!   housekeeping has run and may briefly run ahead of [`Cache::entry_count`].
//!
//! # A shared second tier
//!
//! With ten replicas, ten in-process caches each load and hold their own copy, a replica
//! that starts cold stampedes the source after every deploy, and an `invalidate` reaches one
//! replica out of ten. A second tier on Redis (cargo feature `redis`; in the umbrella crate
//! `boost`, feature `cache-redis`) fixes all three without changing how the cache is used:
//!
//! ```
//! # #[cfg(feature = "redis")]
//! # async fn two_tier() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use boost_cache::{Cache, CacheSettings, L2Settings};
//! # #[derive(Debug)] struct DbError;
//!
//! let mut settings = CacheSettings::new("profiles");
//! settings.ttl = Some(Duration::from_secs(60)); // in memory: short
//! settings.negative_ttl = Some(Duration::from_secs(10));
//! let mut l2 = L2Settings::redis("redis://127.0.0.1:6379");
//! l2.key_prefix = "hello:".into(); // keys are "hello:profiles:<key>"
//! l2.ttl = Some(Duration::from_secs(1800)); // in Redis: longer, shared by every replica
//! l2.coalesce = true; // a cold fleet loads each key once, not once per replica
//! settings.l2 = Some(l2);
//!
//! // `K: Display + FromStr` (keys in Redis and in invalidation messages),
//! // `V: Serialize + DeserializeOwned`; bump the schema version when `V` changes shape.
//! let profiles: Cache<String, Vec<String>> =
//!     Cache::builder(settings).schema_version(1).build_two_tier()?;
//!
//! let languages = profiles
//!     .get_or_load("ada".to_owned(), || async { Ok::<_, DbError>(Some(vec!["en".to_owned()])) })
//!     .await;
//! profiles.invalidate("ada").await; // gone from Redis and from every replica's memory
//! # let _ = languages;
//! # Ok(())
//! # }
//! ```
//!
//! Or in the service's config file, a `[profile_cache.l2]` table (see [`L2Settings`]).
//!
//! How a lookup goes: memory (L1, moka, unchanged) → on a miss, Redis (L2) → on a miss
//! there, the loader, whose answer is written to both. A memory miss asks Redis without
//! coalescing in process (a `GET` costs less than coalescing it), and only misses in both
//! tiers coalesce: concurrent misses of one key on one replica make one load. "Not found"
//! answers are written to Redis
//! too, for `l2.negative_ttl` (or the cache's `negative_ttl`); Redis lifetimes are jittered
//! like memory ones. [`Cache::insert`] writes through, [`Cache::get`] asks Redis on a
//! memory miss (without loading).
//!
//! - **Coalescing across replicas** (`l2.coalesce`): on a Redis miss, a replica takes a
//!   short lease on the key (`SET NX PX`, for `l2.lease`) and loads it; the others poll
//!   Redis for its value (5 ms, doubling to 50 ms) for at most `l2.lease`, then load
//!   themselves. A lease holder whose loader fails gives the lease up at once.
//! - **Invalidation everywhere:** [`Cache::invalidate`] deletes the key in Redis and
//!   publishes it on the cache's channel (`<key_prefix><name>~invalidations`); every replica
//!   subscribes and drops the key from memory (well under 100 ms on a LAN).
//!   [`Cache::invalidate_all`] deletes the cache's keys in Redis (`SCAN` + `UNLINK`) and
//!   then tells every replica to drop its memory. A replica whose subscription broke drops
//!   its whole memory when it resubscribes: it may have missed messages. `invalidate_if`
//!   stays local.
//! - **Redis trouble is not an outage:** every command has `l2.timeout` (default 100 ms);
//!   an error or a timeout makes the lookup go on to the loader (and skip the write back),
//!   counted in `cache_l2_errors_total` and logged at most every 10 s. After
//!   `l2.failure_threshold` failures in a row, Redis is bypassed for `l2.open_for`, then one
//!   lookup probes it. So with Redis down a lookup takes at most `l2.timeout` plus the
//!   loader's time, and then only the loader's. A cache builds while Redis is down
//!   (connections are made on first use), and [`Cache::l2_status`] says whether it is
//!   reachable; the service's readiness does not depend on it unless the service adds a
//!   check that calls it.
//! - **Versioned entries:** values are stored as [postcard](https://docs.rs/postcard) behind
//!   an 8-byte header (format, kind, the schema version given to
//!   [`CacheBuilder::schema_version`]). An entry of another schema version, or one that does
//!   not decode as `V` exactly, is a miss (`cache_l2_errors_total{reason="schema"|"decode"}`)
//!   and is overwritten by the next load, never a panic: old and new releases can share one
//!   Redis during a rollout.
//! - **Bounded:** values over `l2.max_value_bytes` are neither written nor read whole
//!   (`GETRANGE` reads at most one byte more), keys over `l2.max_key_bytes` skip Redis, and
//!   each cache holds `l2.pool_size` multiplexed connections plus one for pub/sub.
//!
//! Metrics: `cache_requests_total{tier="l2",result="hit|miss"}` beside the `tier="l1"`
//! series, `cache_l2_duration_seconds{op}` and `cache_l2_errors_total{reason}`.
//!
#![cfg_attr(
    feature = "redis",
    doc = "[`CacheBuilder::schema_version`]: CacheBuilder::schema_version"
)]
#![cfg_attr(
    not(feature = "redis"),
    doc = "[`CacheBuilder::schema_version`]: crate#a-shared-second-tier"
)]
#![deny(missing_docs)]

mod builder;
mod cache;
mod entry;
mod error;
mod jitter;
#[cfg(feature = "redis")]
mod l2;
mod l2_settings;
mod load;
mod metrics;
mod refresh;
mod settings;
mod size;
mod tier;

pub use builder::CacheBuilder;
pub use cache::Cache;
pub use error::Error;
pub use l2_settings::{L2Backend, L2Settings};
pub use settings::CacheSettings;
pub use size::ByteSize;
pub use tier::L2Status;
