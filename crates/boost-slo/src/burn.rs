//! The multi-window multi-burn-rate alert tiers of the SRE workbook
//! (chapter 5, "Alerting on SLOs", table 5-8).

use std::time::Duration;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// The windows the SLIs are recorded over: every tier's long and short window.
pub const SLI_WINDOWS: &[Duration] = &[
    Duration::from_secs(5 * MINUTE),
    Duration::from_secs(30 * MINUTE),
    Duration::from_secs(HOUR),
    Duration::from_secs(6 * HOUR),
    Duration::from_secs(3 * DAY),
];

/// One burn-rate alert tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tier {
    /// Page: 2 % of a 30-day budget spent in 1 hour (14.4x), checked over 5 minutes.
    FastPage,
    /// Page: 5 % of a 30-day budget spent in 6 hours (6x), checked over 30 minutes.
    SlowPage,
    /// Ticket: 10 % of a 30-day budget spent in 3 days (1x), checked over 6 hours.
    Ticket,
}

impl Tier {
    /// Every tier, fastest first.
    pub const ALL: [Tier; 3] = [Tier::FastPage, Tier::SlowPage, Tier::Ticket];

    /// The share of the whole window's error budget this tier alerts on
    /// having been spent within its long window.
    pub const fn budget_spent(self) -> f64 {
        match self {
            Tier::FastPage => 0.02,
            Tier::SlowPage => 0.05,
            Tier::Ticket => 0.10,
        }
    }

    /// The long window: the error ratio over it must exceed the threshold.
    pub const fn long_window(self) -> Duration {
        match self {
            Tier::FastPage => Duration::from_secs(HOUR),
            Tier::SlowPage => Duration::from_secs(6 * HOUR),
            Tier::Ticket => Duration::from_secs(3 * DAY),
        }
    }

    /// The short window (a twelfth of the long one): the error ratio over it
    /// must exceed the threshold too, so the alert stops soon after the
    /// burning stops.
    pub const fn short_window(self) -> Duration {
        match self {
            Tier::FastPage => Duration::from_secs(5 * MINUTE),
            Tier::SlowPage => Duration::from_secs(30 * MINUTE),
            Tier::Ticket => Duration::from_secs(6 * HOUR),
        }
    }

    /// How long the condition must hold before the alert fires: short
    /// against a one-scrape blip, never long enough to matter for the budget.
    pub const fn for_duration(self) -> Duration {
        match self {
            Tier::FastPage => Duration::from_secs(2 * MINUTE),
            Tier::SlowPage => Duration::from_secs(15 * MINUTE),
            Tier::Ticket => Duration::from_secs(HOUR),
        }
    }

    /// The burn rate (multiple of the rate that spends the budget exactly
    /// over `window`) this tier alerts at: 14.4, 6 and 1 for 30 days,
    /// proportionally more for a longer window.
    pub fn factor(self, window: Duration) -> f64 {
        self.budget_spent() * window.as_secs_f64() / self.long_window().as_secs_f64()
    }

    /// `page` or `ticket`.
    pub const fn severity(self) -> &'static str {
        match self {
            Tier::FastPage | Tier::SlowPage => "page",
            Tier::Ticket => "ticket",
        }
    }

    /// The alert name's suffix: `FastBurn`, `SlowBurn`, `SteadyBurn`.
    pub const fn suffix(self) -> &'static str {
        match self {
            Tier::FastPage => "FastBurn",
            Tier::SlowPage => "SlowBurn",
            Tier::Ticket => "SteadyBurn",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workbook_factors_come_out_for_thirty_days() {
        let window = Duration::from_secs(30 * DAY);
        let factors: Vec<f64> = Tier::ALL.iter().map(|t| t.factor(window)).collect();
        for (got, want) in factors.iter().zip([14.4, 6.0, 1.0]) {
            assert!((got - want).abs() < 1e-9, "{factors:?}");
        }
        let four_weeks = Tier::FastPage.factor(Duration::from_secs(28 * DAY));
        assert!((four_weeks - 13.44).abs() < 1e-9, "{four_weeks}");
    }
}
