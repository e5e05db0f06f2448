//! How long an acquire and a statement may take, from the call's remaining
//! deadline and the settings. Pure functions of their inputs, so they are
//! tested without clocks.

use std::time::Duration;

use crate::error::DbError;

/// The shortest statement timeout the kit sets: PostgreSQL reads `0` as
/// "no timeout".
const MIN_STATEMENT: Duration = Duration::from_millis(1);

/// How long to wait for a pool connection: `Ok((wait, bound_by_deadline))`,
/// or the deadline error when the call has no time left for a statement.
pub(crate) fn acquire(
    remaining: Option<Duration>,
    acquire_timeout: Duration,
    reserve: Duration,
) -> Result<(Duration, bool), DbError> {
    match remaining {
        None => Ok((acquire_timeout, false)),
        Some(left) if left <= reserve || left.is_zero() => Err(DbError::DeadlineExceeded {
            phase: "acquire",
            detail: format!(
                "{} left, no more than database.statement_reserve ({})",
                ms(left),
                ms(reserve)
            ),
        }),
        Some(left) if left < acquire_timeout => Ok((left - reserve, true)),
        Some(_) => Ok((acquire_timeout, false)),
    }
}

/// The statement timeout for a connection handed out now: the remaining
/// deadline less the reserve, at most `statement_timeout`.
pub(crate) fn statement(
    remaining: Option<Duration>,
    statement_timeout: Duration,
    reserve: Duration,
) -> Result<Duration, DbError> {
    match remaining {
        None => Ok(statement_timeout.max(MIN_STATEMENT)),
        Some(left) if left <= reserve || left.saturating_sub(reserve) < MIN_STATEMENT => {
            Err(DbError::DeadlineExceeded {
                phase: "statement",
                detail: format!(
                    "{} left after waiting for a connection, no more than database.statement_reserve ({})",
                    ms(left),
                    ms(reserve)
                ),
            })
        }
        Some(left) => Ok((left - reserve).min(statement_timeout).max(MIN_STATEMENT)),
    }
}

/// A duration as PostgreSQL's `statement_timeout` takes it: whole
/// milliseconds, rounded down so that the timeout never exceeds the budget
/// (and never 0, which PostgreSQL reads as "none": [`statement`] gives at
/// least 1 ms).
pub(crate) fn millis(d: Duration) -> u128 {
    d.as_millis().max(1)
}

fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn no_deadline_waits_the_acquire_timeout_and_uses_the_statement_timeout() {
        assert_eq!(
            acquire(None, 2000 * MS, 20 * MS).unwrap(),
            (2000 * MS, false)
        );
        assert_eq!(statement(None, 30_000 * MS, 20 * MS).unwrap(), 30_000 * MS);
    }

    #[test]
    fn a_short_deadline_bounds_acquire_and_statement() {
        assert_eq!(
            acquire(Some(300 * MS), 2000 * MS, 20 * MS).unwrap(),
            (280 * MS, true)
        );
        assert_eq!(
            statement(Some(300 * MS), 30_000 * MS, 20 * MS).unwrap(),
            280 * MS
        );
    }

    #[test]
    fn a_long_deadline_keeps_the_configured_bounds() {
        assert_eq!(
            acquire(Some(60_000 * MS), 2000 * MS, 20 * MS).unwrap(),
            (2000 * MS, false)
        );
        assert_eq!(
            statement(Some(60_000 * MS), 30_000 * MS, 20 * MS).unwrap(),
            30_000 * MS
        );
    }

    #[test]
    fn no_time_beyond_the_reserve_is_a_deadline_error() {
        assert!(
            acquire(Some(20 * MS), 2000 * MS, 20 * MS)
                .unwrap_err()
                .is_deadline()
        );
        assert!(
            acquire(Some(Duration::ZERO), 2000 * MS, Duration::ZERO)
                .unwrap_err()
                .is_deadline()
        );
        assert!(
            statement(Some(10 * MS), 30_000 * MS, 20 * MS)
                .unwrap_err()
                .is_deadline()
        );
    }

    #[test]
    fn millis_rounds_down_never_past_the_budget_and_is_never_zero() {
        assert_eq!(millis(Duration::from_micros(1)), 1);
        assert_eq!(millis(Duration::from_micros(1999)), 1);
        assert_eq!(millis(Duration::from_secs(2)), 2000);
    }

    proptest::proptest! {
        /// The guarantee: the timeout set never exceeds the remaining
        /// deadline less the reserve, nor `statement_timeout`.
        #[test]
        fn the_timeout_set_never_exceeds_the_deadline_less_the_reserve(
            left_us in 0u64..100_000_000,
            reserve_us in 0u64..10_000_000,
            statement_ms in 1u64..86_400_000,
        ) {
            let left = Duration::from_micros(left_us);
            let reserve = Duration::from_micros(reserve_us);
            let statement_timeout = Duration::from_millis(statement_ms);
            if let Ok(t) = statement(Some(left), statement_timeout, reserve) {
                let set = Duration::from_millis(u64::try_from(millis(t)).unwrap_or(u64::MAX));
                proptest::prop_assert!(set + reserve <= left, "{set:?} + {reserve:?} > {left:?}");
                proptest::prop_assert!(set <= statement_timeout);
                proptest::prop_assert!(!set.is_zero());
            }
        }
    }
}
