//! `feature_flag_state{flag}` and `feature_flag_changes_total{flag,outcome}`.

use boost_metrics::conventions::{FEATURE_FLAG_CHANGES_TOTAL, FEATURE_FLAG_STATE};
use metrics::Gauge;

/// One switch's metric handles, made once when the switches open.
#[derive(Debug)]
pub(crate) struct SwitchMetrics {
    flag: String,
    state: Gauge,
}

impl SwitchMetrics {
    pub(crate) fn new(flag: &str) -> Self {
        Self {
            flag: flag.to_owned(),
            state: metrics::gauge!(FEATURE_FLAG_STATE, "flag" => flag.to_owned()),
        }
    }

    /// A toggle's 0 or 1, a rollout's share from 0 to 1.
    pub(crate) fn state(&self, value: f64) {
        self.state.set(value);
    }

    /// Changes are rare: the counter is looked up each time.
    pub(crate) fn change(&self, outcome: &'static str) {
        metrics::counter!(FEATURE_FLAG_CHANGES_TOTAL, "flag" => self.flag.clone(), "outcome" => outcome)
            .increment(1);
    }
}
