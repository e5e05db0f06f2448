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
//! `cache_requests_total{result="hit|miss|stale"}`, `cache_loads_total{outcome="ok|error|absent"}`,
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
//! # A second tier
//!
//! The cache is one in-process tier. A shared tier (e.g. Redis) is planned to slot in
//! between a miss and the loader without changing this API: settings are
//! `#[non_exhaustive]`, and loaders already speak in "value / absent / error" terms that
//! a remote tier can answer too. See `docs/caching.md`.
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
