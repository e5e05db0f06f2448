//! [`Slot`]: what the cache stores per key, and the [`SlotExpiry`] that reads its lifetime.

use std::time::{Duration, Instant};

use moka::Expiry;

/// The in-process tier: moka, keyed through foldhash (see [`L1Hasher`]).
pub(crate) type L1<K, V> = moka::future::Cache<K, Slot<V>, L1Hasher>;

/// The in-process tier's key hasher. moka's default, std's SipHash, was about 140 of the
/// 1,500 instructions of a hit (callgrind, `benches/benches/cache.rs`); foldhash is the
/// hasher hashbrown uses by default, a few instructions for a `u64`. Its seed is random per
/// process and per cache, so colliding keys cannot be computed ahead of time (what a
/// HashDoS needs); it is not a defence against an attacker who can study the process's
/// hashes, which a cache never shows.
pub(crate) type L1Hasher = foldhash::fast::RandomState;

/// One cached answer: a value, or the fact that the key is absent at the source.
#[derive(Debug, Clone)]
pub(crate) struct Slot<V> {
    /// `None` is a cached "absent" answer (negative caching).
    pub(crate) value: Option<V>,
    /// When the answer was loaded or inserted: refresh-ahead compares its age to `refresh_after`.
    pub(crate) loaded_at: Instant,
    /// This entry's lifetime from its write, already jittered; `None` = no per-entry expiry.
    pub(crate) ttl: Option<Duration>,
    /// The memory key and answer hold ([`ByteSize`](crate::ByteSize)), measured once at write.
    pub(crate) bytes: u32,
}

/// Gives moka each entry's own (jittered) lifetime, set on every write and left alone on reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlotExpiry;

impl<K, V> Expiry<K, Slot<V>> for SlotExpiry {
    fn expire_after_create(
        &self,
        _key: &K,
        slot: &Slot<V>,
        _created_at: Instant,
    ) -> Option<Duration> {
        slot.ttl
    }

    fn expire_after_update(
        &self,
        _key: &K,
        slot: &Slot<V>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        slot.ttl
    }
}
