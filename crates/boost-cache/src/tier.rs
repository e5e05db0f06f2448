//! [`SecondTier`]: what the cache asks of a shared tier between its memory and the loader.
//!
//! The trait is object-safe and free of serde bounds, so [`Cache`](crate::Cache) keeps its
//! plain `K`/`V` bounds; the Redis tier (feature `redis`) adds its own when it is built.

use std::future::Future;
use std::pin::Pin;

/// A boxed, `Send` future borrowing the tier and the key.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a second-tier lookup found.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) enum Lookup<V> {
    /// The tier holds an answer: a value, or `None` for a cached "absent".
    Hit(Option<V>),
    /// The tier answered and holds nothing usable (or only an entry it could not decode);
    /// with a lease, this replica is the one that loads the key for the fleet.
    Miss(Option<Lease>),
    /// The tier could not be asked (error, timeout, open circuit, key too long): load
    /// without writing back.
    Unavailable,
}

/// This replica's claim on loading one key for every replica (cross-replica coalescing).
#[derive(Debug)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct Lease;

/// Whether a tier is in use and reachable; see [`Cache::l2_status`](crate::Cache::l2_status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct L2Status {
    /// The circuit is closed: the last commands reached Redis (or none failed yet).
    pub reachable: bool,
    /// The invalidation subscription is up: invalidations from other replicas arrive.
    pub subscribed: bool,
}

/// A shared tier behind the in-process one.
pub(crate) trait SecondTier<K, V>: Send + Sync {
    /// The tier's answer for `key` (a miss never holds a [`Lease`]).
    fn lookup<'a>(&'a self, key: &'a K) -> BoxFuture<'a, Lookup<V>>;
    /// After a [`lookup`](Self::lookup) missed: with cross-replica coalescing on, takes the
    /// key's [`Lease`] (this replica loads) or waits, bounded, for the value the lease
    /// holder stores; without it, a plain miss. Counts no request (the lookup did).
    fn claim<'a>(&'a self, key: &'a K) -> BoxFuture<'a, Lookup<V>>;
    /// Writes `value` (or an absence) for `key` and releases `lease`.
    fn store<'a>(
        &'a self,
        key: &'a K,
        value: Option<&'a V>,
        lease: Option<Lease>,
    ) -> BoxFuture<'a, ()>;
    /// Gives up `lease` without a value (the loader failed).
    fn release<'a>(&'a self, key: &'a K, lease: Lease) -> BoxFuture<'a, ()>;
    /// Deletes `key` from the tier and tells every replica to drop it from memory.
    fn invalidate<'a>(&'a self, key: &'a K) -> BoxFuture<'a, ()>;
    /// Deletes every key of this cache from the tier, then tells every replica to drop its
    /// memory.
    fn invalidate_all(&self) -> BoxFuture<'_, ()>;
    /// Whether the tier is reachable and subscribed.
    fn status(&self) -> L2Status;
    /// Asks the tier whether it answers now (a `PING` within the timeout); `Err` says why not.
    fn ping(&self) -> BoxFuture<'_, Result<(), String>>;
}
