//! The handles code evaluates on the hot path: [`Switch`] and [`Rollout`].
//!
//! Each is an `Arc` to the switch's entry; evaluating one is a single relaxed
//! atomic load (plus, for a rollout, hashing the key) — no lock, no
//! allocation. An operator's change is a store to that atomic, seen by every
//! handle at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Basis points in 100%: a rollout's share is kept as 0..=10 000.
pub(crate) const FULL: u32 = 10_000;

/// What evaluation reads: one atomic per switch.
#[derive(Debug)]
pub(crate) struct Cell {
    /// A toggle: 0 (off) or 1 (on). A rollout: its share in basis points.
    value: AtomicU32,
    /// Mixed into every key's hash so two rollouts at 10% pick different
    /// 10%s of the callers.
    seed: u64,
}

impl Cell {
    pub(crate) fn new(name: &str, value: u32) -> Self {
        Self {
            value: AtomicU32::new(value),
            seed: fnv1a(FNV_OFFSET, name.as_bytes()),
        }
    }

    pub(crate) fn load(&self) -> u32 {
        self.value.load(Ordering::Relaxed)
    }

    pub(crate) fn store(&self, value: u32) {
        self.value.store(value, Ordering::Relaxed);
    }

    /// The bucket, 0..10 000, of `key` for this switch.
    pub(crate) fn bucket(&self, key: &[u8]) -> u32 {
        // The modulo's bias over 2^64 is far below one basis point.
        (fnv1a(self.seed, key) % u64::from(FULL)) as u32
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a: stable across builds, platforms and releases (unlike std's
/// `DefaultHasher`), so a key keeps its bucket after a deploy; and a few
/// nanoseconds for a short key.
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    // FNV's low bits mix poorly for short keys; a final avalanche
    // (splitmix64's) spreads them before the modulo.
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// An on/off switch, from [`Switches::get`](crate::Switches::get). Cheap to
/// clone; keep it in your handler's state and ask it per call.
///
/// ```
/// use boost_switches::{SwitchDef, Switches};
///
/// let switches = Switches::in_memory([(
///     "partner_hertz",
///     SwitchDef::toggle("Call Hertz; off: no Hertz prices.", "cars-team", true),
/// )])?;
/// let hertz = switches.get("partner_hertz")?;
/// if hertz.is_on() {
///     // call the partner
/// }
/// # Ok::<(), boost_switches::SwitchError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Switch {
    pub(crate) cell: Arc<Cell>,
}

impl Switch {
    /// Whether the switch is on now. One relaxed atomic load.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.cell.load() != 0
    }
}

/// A percentage rollout, from [`Switches::rollout`](crate::Switches::rollout).
///
/// ```
/// use boost_switches::{SwitchDef, Switches};
///
/// let switches = Switches::in_memory([(
///     "new_pricing",
///     SwitchDef::rollout("Share of callers priced by the new engine.", "pricing", 25.0),
/// )])?;
/// let new_pricing = switches.rollout("new_pricing")?;
/// let first = new_pricing.is_on_for("customer-42");
/// assert_eq!(new_pricing.is_on_for("customer-42"), first, "same key, same answer");
/// # Ok::<(), boost_switches::SwitchError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Rollout {
    pub(crate) cell: Arc<Cell>,
}

impl Rollout {
    /// Whether the rollout includes `key` (a user id, tenant, …): the same key
    /// gets the same answer as long as the share is unchanged, and a key
    /// included at 10% stays included at 20%.
    #[inline]
    pub fn is_on_for(&self, key: impl AsRef<[u8]>) -> bool {
        let share = self.cell.load();
        share >= FULL || (share != 0 && self.cell.bucket(key.as_ref()) < share)
    }

    /// The share of keys included now, 0 to 100.
    pub fn percent(&self) -> f64 {
        f64::from(self.cell.load()) / 100.0
    }
}

/// A rollout's percent as basis points (rounded; clamped to 0..=100%).
pub(crate) fn basis_points(percent: f64) -> u32 {
    (percent.clamp(0.0, 100.0) * 100.0).round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_spread() {
        let cell = Cell::new("new_pricing", 1000);
        // Pinned: a key's bucket must not move between releases.
        assert_eq!(
            cell.bucket(b"customer-42"),
            Cell::new("new_pricing", 0).bucket(b"customer-42")
        );
        let included = (0..10_000)
            .filter(|i| cell.bucket(format!("user-{i}").as_bytes()) < 1000)
            .count();
        assert!(
            (800..1200).contains(&included),
            "10% of 10 000 keys, got {included}"
        );
    }

    #[test]
    fn different_switches_pick_different_keys() {
        let a = Cell::new("a", 0);
        let b = Cell::new("b", 0);
        let same = (0..1000)
            .filter(|i| {
                let key = format!("user-{i}");
                (a.bucket(key.as_bytes()) < 5000) == (b.bucket(key.as_bytes()) < 5000)
            })
            .count();
        assert!(
            (400..600).contains(&same),
            "independent halves agree about half the time: {same}"
        );
    }

    #[test]
    fn a_key_included_at_a_share_stays_included_at_a_larger_one() {
        let cell = Arc::new(Cell::new("grow", 1000));
        let rollout = Rollout {
            cell: Arc::clone(&cell),
        };
        let at_ten: Vec<bool> = (0..500)
            .map(|i| rollout.is_on_for(format!("k{i}")))
            .collect();
        cell.store(2000);
        for (i, was) in at_ten.iter().enumerate() {
            if *was {
                assert!(rollout.is_on_for(format!("k{i}")));
            }
        }
        cell.store(0);
        assert!(!(0..500).any(|i| rollout.is_on_for(format!("k{i}"))));
        cell.store(FULL);
        assert!((0..500).all(|i| rollout.is_on_for(format!("k{i}"))));
    }

    #[test]
    fn percent_to_basis_points() {
        assert_eq!(basis_points(12.345), 1235);
        assert_eq!(basis_points(150.0), FULL);
        assert_eq!(basis_points(-1.0), 0);
    }
}
