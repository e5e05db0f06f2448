//! [`Ledger`]: what a [`RetryBudget`](super::RetryBudget) holds, for admin
//! pages — tower's `TpsBudget` decides but shows no balance.
//!
//! The ledger counts the calls deposited and the retries withdrawn over the
//! budget's `ttl`, in ten slots of `ttl / 10` as `TpsBudget` does, and
//! applies the same token amounts to them, so the balance it reports is the
//! one `TpsBudget` decides on (the two windows' slot edges can differ by up
//! to one slot, `ttl / 10`). It never decides anything itself: retries are
//! granted or refused exactly as before.
//!
//! Lock-free: each slot is one atomic word `epoch << 32 | count`, written
//! with a compare-and-swap once per deposited batch and once per retry.
//! Time is tokio's `Instant`, as in `TpsBudget`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

// tokio's clock, as `TpsBudget` uses: the two windows move together, paused
// test clocks included (outside a runtime it is the system's monotonic clock).
use tokio::time::Instant;

/// Slots per `ttl`, as in `TpsBudget`.
const SLOTS: usize = 10;

/// One windowed counter: a slot per tenth of the window.
#[derive(Debug, Default)]
struct Counter {
    slots: [AtomicU64; SLOTS],
}

impl Counter {
    /// Adds `n` to the slot of `epoch`, resetting a slot left by an old epoch.
    fn add(&self, epoch: u32, n: u32) {
        let slot = &self.slots[epoch as usize % SLOTS];
        let mut current = slot.load(Ordering::Relaxed);
        loop {
            let (at, count) = unpack(current);
            let next = if at == epoch {
                pack(epoch, count.saturating_add(n))
            } else {
                pack(epoch, n)
            };
            match slot.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }

    /// The counts of the last [`SLOTS`] epochs up to `epoch`.
    fn sum(&self, epoch: u32) -> u64 {
        self.slots
            .iter()
            .map(|slot| unpack(slot.load(Ordering::Relaxed)))
            .filter(|&(at, _)| epoch.wrapping_sub(at) < SLOTS as u32)
            .map(|(_, count)| u64::from(count))
            .sum()
    }
}

fn pack(epoch: u32, count: u32) -> u64 {
    (u64::from(epoch) << 32) | u64::from(count)
}

fn unpack(word: u64) -> (u32, u32) {
    ((word >> 32) as u32, word as u32)
}

/// What a retry budget holds now ([`RetryBudget::balance`](super::RetryBudget::balance)).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct BudgetBalance {
    /// Retries the budget would grant now.
    pub available: u64,
    /// Calls deposited within the budget's `ttl`.
    pub deposits: u64,
    /// Retries withdrawn within the budget's `ttl`.
    pub withdrawals: u64,
    /// Retries always available (`budget_min_per_sec × budget_ttl`).
    pub reserve: u64,
    /// Retries earned per call (`budget_ratio`).
    pub ratio: f64,
}

/// Deposits and withdrawals over the budget's `ttl`. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Ledger {
    origin: Instant,
    slot_nanos: u64,
    deposits: Counter,
    withdrawals: Counter,
    /// Tokens in `TpsBudget`'s units: a deposit earns `deposit_amount`, a
    /// retry costs `withdraw_amount`, the reserve is `reserve` tokens.
    deposit_amount: u64,
    withdraw_amount: u64,
    reserve: u64,
    ratio: f64,
}

impl Ledger {
    /// A ledger using `TpsBudget::new(ttl, min_per_sec, ratio)`'s amounts
    /// (the arguments already clamped as the budget clamps them).
    pub(crate) fn new(ttl: Duration, min_per_sec: u32, ratio: f32) -> Self {
        // The same integer amounts as tower's `TpsBudget::new`.
        let (deposit_amount, withdraw_amount) = if ratio == 0.0 {
            (0, 1)
        } else if ratio <= 1.0 {
            (1, ((1.0 / ratio) as u64).max(1))
        } else {
            (1000, ((1000.0 / ratio) as u64).max(1))
        };
        let reserve = u64::from(min_per_sec)
            .saturating_mul(ttl.as_secs())
            .saturating_mul(withdraw_amount);
        Self {
            origin: Instant::now(),
            slot_nanos: (ttl.as_nanos() / SLOTS as u128).clamp(1, u64::MAX as u128) as u64,
            deposits: Counter::default(),
            withdrawals: Counter::default(),
            deposit_amount,
            withdraw_amount,
            reserve,
            // As configured (0.2), not as f32 widened (0.20000000298…).
            ratio: (f64::from(ratio) * 1e6).round() / 1e6,
        }
    }

    /// The slot number of `now` (wrapping after 2³² slots: years).
    fn epoch(&self, now: Instant) -> u32 {
        let nanos = now.saturating_duration_since(self.origin).as_nanos();
        (nanos / u128::from(self.slot_nanos)) as u32
    }

    /// Counts `calls` deposited at `now`.
    pub(crate) fn deposited(&self, now: Instant, calls: u32) {
        if calls > 0 {
            self.deposits.add(self.epoch(now), calls);
        }
    }

    /// Counts one retry withdrawn at `now`.
    pub(crate) fn withdrew(&self, now: Instant) {
        self.withdrawals.add(self.epoch(now), 1);
    }

    /// The balance at `now`, with `pending` calls counted but not yet deposited.
    pub(crate) fn balance(&self, now: Instant, pending: u32) -> BudgetBalance {
        let epoch = self.epoch(now);
        let deposits = self.deposits.sum(epoch) + u64::from(pending);
        let withdrawals = self.withdrawals.sum(epoch);
        let tokens = (self.reserve as i128) + (deposits as i128) * (self.deposit_amount as i128)
            - (withdrawals as i128) * (self.withdraw_amount as i128);
        let available = (tokens.max(0) / self.withdraw_amount as i128).min(u64::MAX as i128) as u64;
        BudgetBalance {
            available,
            deposits,
            withdrawals,
            reserve: self.reserve / self.withdraw_amount,
            ratio: self.ratio,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(10);

    #[test]
    fn balance_is_reserve_plus_ratio_of_calls_minus_retries() {
        let ledger = Ledger::new(TTL, 1, 0.5);
        let now = ledger.origin;
        assert_eq!(ledger.balance(now, 0).available, 10, "1/s × 10 s reserve");
        ledger.deposited(now, 8);
        let b = ledger.balance(now, 2);
        assert_eq!((b.deposits, b.available, b.reserve), (10, 15, 10));
        ledger.withdrew(now);
        ledger.withdrew(now);
        let b = ledger.balance(now, 2);
        assert_eq!((b.withdrawals, b.available), (2, 13));
    }

    #[test]
    fn ratio_above_one_uses_tower_amounts() {
        let ledger = Ledger::new(TTL, 0, 2.0);
        let now = ledger.origin;
        ledger.deposited(now, 3);
        assert_eq!(ledger.balance(now, 0).available, 6, "two retries per call");
        let none = Ledger::new(TTL, 0, 0.0);
        none.deposited(now, 50);
        assert_eq!(none.balance(now, 0).available, 0, "ratio 0 earns nothing");
    }

    #[test]
    fn counts_expire_after_ttl() {
        let ledger = Ledger::new(TTL, 0, 1.0);
        let start = ledger.origin;
        ledger.deposited(start, 5);
        ledger.withdrew(start);
        let later = start + Duration::from_secs(5);
        ledger.deposited(later, 2);
        let b = ledger.balance(later, 0);
        assert_eq!((b.deposits, b.withdrawals, b.available), (7, 1, 6));
        // The first slot has left the window; the second has not.
        let b = ledger.balance(start + Duration::from_secs(11), 0);
        assert_eq!((b.deposits, b.withdrawals, b.available), (2, 0, 2));
        // A slot reused by a later epoch starts from zero.
        ledger.deposited(start + Duration::from_secs(20), 1);
        let b = ledger.balance(start + Duration::from_secs(20), 0);
        assert_eq!(b.deposits, 1);
    }

    #[test]
    fn more_retries_than_credit_reports_zero_not_negative() {
        let ledger = Ledger::new(TTL, 0, 0.1);
        let now = ledger.origin;
        ledger.withdrew(now);
        assert_eq!(ledger.balance(now, 0).available, 0);
    }

    #[test]
    fn concurrent_deposits_are_all_counted() {
        let ledger = std::sync::Arc::new(Ledger::new(TTL, 0, 1.0));
        let now = ledger.origin;
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let ledger = ledger.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        ledger.deposited(now, 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(ledger.balance(now, 0).deposits, 4000);
    }
}
