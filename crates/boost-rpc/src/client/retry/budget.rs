//! [`RetryBudget`]: retries as a fraction of calls, so a dead upstream sees
//! about `1 + ratio` times the calls instead of `max_attempts` times.
//!
//! A thin wrapper over tower's [`TpsBudget`]: every call deposits, every retry
//! withdraws; deposits expire after `ttl`. `min_per_sec · ttl` retries are
//! always available (with the defaults, 10/s × 10 s = 100), so a quiet client
//! can still retry.

use std::sync::Arc;
use std::time::Duration;

use tower::retry::budget::{Budget, TpsBudget};

use crate::client::settings::RetrySettings;

/// A retry budget shared by all clones of one client.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    inner: Arc<TpsBudget>,
}

impl RetryBudget {
    /// A budget allowing `ratio` retries per call plus `min_per_sec`, with
    /// deposits counted for `ttl` (clamped to tower's 1–60 s).
    pub fn new(ttl: Duration, min_per_sec: u32, ratio: f32) -> Self {
        let ttl = ttl.clamp(Duration::from_secs(1), Duration::from_secs(60));
        let ratio = if ratio.is_finite() {
            ratio.clamp(0.0, 1000.0)
        } else {
            0.0
        };
        Self {
            inner: Arc::new(TpsBudget::new(
                ttl,
                min_per_sec.min(i32::MAX as u32 - 1),
                ratio,
            )),
        }
    }

    /// The budget described by `settings`.
    pub fn from_settings(settings: &RetrySettings) -> Self {
        Self::new(
            settings.budget_ttl,
            settings.budget_min_per_sec,
            settings.budget_ratio,
        )
    }

    /// Records a call (earns retry credit).
    pub fn deposit(&self) {
        self.inner.deposit();
    }

    /// Spends credit for one retry; `false` when the budget is empty.
    pub fn withdraw(&self) -> bool {
        self.inner.withdraw()
    }
}
