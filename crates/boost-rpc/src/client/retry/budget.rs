//! [`RetryBudget`]: retries as a fraction of calls, so a dead upstream sees
//! about `1 + ratio` times the calls instead of `max_attempts` times.
//!
//! A thin wrapper over tower's [`TpsBudget`]: every call deposits, every retry
//! withdraws; deposits expire after `ttl`. `min_per_sec · ttl` retries are
//! always available (with the defaults, 10/s × 10 s = 100), so a quiet client
//! can still retry.
//!
//! `TpsBudget` takes a lock and reads the clock on every deposit; with many
//! calls in flight on several threads that lock is contended on every call
//! (threads park on it). So calls are counted with one atomic add and handed
//! to `TpsBudget` in batches of [`DEPOSIT_BATCH`], by one thread at a time,
//! and always before a withdrawal: a retry decision sees every call made so
//! far. (At most `DEPOSIT_BATCH − 1` deposits wait, and only until the next
//! batch or retry, so they can count in a later window than their call.)
//!
//! [`balance`](RetryBudget::balance) reports what the budget holds (for
//! `/upstreams`): a [`Ledger`] counts the same deposits and withdrawals in
//! the same kind of window, with one compare-and-swap per batch and per
//! retry, and never takes part in the decision.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use tower::retry::budget::{Budget, TpsBudget};

use super::ledger::{BudgetBalance, Ledger};

use crate::client::settings::RetrySettings;

/// Calls counted before they are deposited into `TpsBudget` together.
pub(crate) const DEPOSIT_BATCH: u32 = 16;

/// A retry budget shared by all clones of one client: [`deposit`](Self::deposit)
/// once per call, [`withdraw`](Self::withdraw) before each retry.
///
/// boost-rpc's retry layer uses it, and so does boost-http's client, so an
/// HTTP upstream that goes down sees the same bounded amplification as a gRPC
/// one (about `1 + ratio` times the calls):
///
/// ```
/// use std::time::Duration;
/// use boost_rpc::client::retry::RetryBudget;
///
/// let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.5);
/// for _ in 0..4 {
///     budget.deposit();
/// }
/// assert!(budget.withdraw() && budget.withdraw(), "four calls earn two retries");
/// assert!(!budget.withdraw());
/// ```
#[derive(Debug, Clone)]
pub struct RetryBudget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tps: TpsBudget,
    /// The same deposits and withdrawals, for reporting the balance.
    ledger: Ledger,
    /// Calls not yet deposited.
    pending: AtomicU32,
}

impl RetryBudget {
    /// A budget allowing `ratio` retries per call plus `min_per_sec`, with
    /// deposits counted for `ttl` (clamped to tower's 1–60 s).
    pub fn new(ttl: Duration, min_per_sec: u32, ratio: f64) -> Self {
        let ttl = ttl.clamp(Duration::from_secs(1), Duration::from_secs(60));
        // tower's budget counts in f32; the settings say f64 so that 0.2
        // reads as 0.2 in a generated config file, not 0.20000000298023224.
        let ratio = if ratio.is_finite() {
            ratio.clamp(0.0, 1000.0) as f32
        } else {
            0.0
        };
        let min_per_sec = min_per_sec.min(i32::MAX as u32 - 1);
        Self {
            inner: Arc::new(Inner {
                tps: TpsBudget::new(ttl, min_per_sec, ratio),
                ledger: Ledger::new(ttl, min_per_sec, ratio),
                pending: AtomicU32::new(0),
            }),
        }
    }

    /// The budget described by `settings`.
    pub(crate) fn from_settings(settings: &RetrySettings) -> Self {
        Self::new(
            settings.budget_ttl,
            settings.budget_min_per_sec,
            settings.budget_ratio,
        )
    }

    /// Records a call (earns retry credit).
    pub fn deposit(&self) {
        if self.inner.pending.fetch_add(1, Ordering::Relaxed) + 1 >= DEPOSIT_BATCH {
            self.flush();
        }
    }

    /// Spends credit for one retry; `false` when the budget is empty.
    pub fn withdraw(&self) -> bool {
        self.flush();
        let granted = self.inner.tps.withdraw();
        if granted {
            self.inner.ledger.withdrew(Instant::now());
        }
        granted
    }

    /// What the budget holds now: retries available, and the calls and
    /// retries counted within its `ttl`. Reads atomics only; changes nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// use boost_rpc::client::retry::RetryBudget;
    ///
    /// let budget = RetryBudget::new(Duration::from_secs(10), 1, 0.5);
    /// assert_eq!(budget.balance().available, 10, "the reserve: 1/s for 10 s");
    /// for _ in 0..4 {
    ///     budget.deposit();
    /// }
    /// assert!(budget.withdraw());
    /// let balance = budget.balance();
    /// assert_eq!((balance.deposits, balance.withdrawals, balance.available), (4, 1, 11));
    /// ```
    pub fn balance(&self) -> BudgetBalance {
        let pending = self.inner.pending.load(Ordering::Relaxed);
        self.inner.ledger.balance(Instant::now(), pending)
    }

    /// Deposits the calls counted so far.
    fn flush(&self) {
        let calls = self.inner.pending.swap(0, Ordering::Relaxed);
        if calls == 0 {
            return;
        }
        for _ in 0..calls {
            self.inner.tps.deposit();
        }
        self.inner.ledger.deposited(Instant::now(), calls);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_counts_before_a_withdrawal() {
        // No reserve, 1 retry per call: credit is exactly the calls made.
        let budget = RetryBudget::new(Duration::from_secs(10), 0, 1.0);
        assert!(!budget.withdraw(), "no calls, no credit");
        for _ in 0..3 {
            budget.deposit();
        }
        assert!(budget.withdraw() && budget.withdraw() && budget.withdraw());
        assert!(!budget.withdraw(), "three calls earn three retries");
    }

    #[test]
    fn balance_follows_the_decisions() {
        // The reported balance is what `withdraw` grants: spend it all.
        let budget = RetryBudget::new(Duration::from_secs(10), 1, 0.2);
        for _ in 0..(3 * DEPOSIT_BATCH + 5) {
            budget.deposit();
        }
        let before = budget.balance();
        assert_eq!(before.deposits, u64::from(3 * DEPOSIT_BATCH + 5));
        assert_eq!(before.reserve, 10);
        let mut granted = 0;
        while budget.withdraw() {
            granted += 1;
            assert!(granted <= 1000, "bounded");
        }
        assert_eq!(granted, before.available, "reported = granted");
        let after = budget.balance();
        assert_eq!((after.available, after.withdrawals), (0, granted));
    }
}
