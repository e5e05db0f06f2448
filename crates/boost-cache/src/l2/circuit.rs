//! [`Circuit`]: stop asking a Redis that keeps failing, and probe it again later;
//! [`RateLimitedLog`]: one warning per interval, however many failures.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A consecutive-failure circuit breaker: closed (commands go through), open for
/// `open_for` after `threshold` failures in a row (commands are skipped), then half-open:
/// one command probes, and its outcome closes or reopens the circuit.
///
/// While closed and healthy, [`allow`](Self::allow) and [`success`](Self::success) are two
/// relaxed atomic loads: every command passes through them, from every task at once, so
/// the lock is only taken on failures and while open.
#[derive(Debug)]
pub(crate) struct Circuit {
    threshold: u32,
    open_for: Duration,
    /// Whether the circuit is open (or half-open); written under `state`.
    open: AtomicBool,
    /// Consecutive failures while closed.
    failures: AtomicU32,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    open_until: Option<Instant>,
    probing: bool,
}

/// What a state change means for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Nothing worth saying.
    None,
    /// The circuit just opened (or reopened after a failed probe).
    Opened,
    /// The circuit was open and a probe succeeded.
    Closed,
}

impl Circuit {
    pub(crate) fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            open_for,
            open: AtomicBool::new(false),
            failures: AtomicU32::new(0),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a command may go to Redis now. While open: no, except one probe once
    /// `open_for` has passed.
    pub(crate) fn allow(&self) -> bool {
        if !self.open.load(Ordering::Acquire) {
            return true;
        }
        let mut state = self.state();
        match state.open_until {
            None => true,
            Some(until) if Instant::now() < until => false,
            Some(_) if state.probing => false,
            Some(_) => {
                state.probing = true;
                true
            }
        }
    }

    /// Whether the circuit is closed.
    pub(crate) fn is_closed(&self) -> bool {
        !self.open.load(Ordering::Acquire)
    }

    /// A command succeeded.
    pub(crate) fn success(&self) -> Change {
        if !self.open.load(Ordering::Acquire) {
            if self.failures.load(Ordering::Relaxed) != 0 {
                self.failures.store(0, Ordering::Relaxed);
            }
            return Change::None;
        }
        let mut state = self.state();
        let was_open = state.open_until.is_some();
        *state = State::default();
        self.failures.store(0, Ordering::Relaxed);
        self.open.store(false, Ordering::Release);
        if was_open {
            Change::Closed
        } else {
            Change::None
        }
    }

    /// A command failed.
    pub(crate) fn failure(&self) -> Change {
        let mut state = self.state();
        if state.open_until.is_some() {
            if state.probing {
                state.probing = false;
                state.open_until = Some(Instant::now() + self.open_for);
                return Change::Opened;
            }
            return Change::None;
        }
        let failures = self
            .failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if failures >= self.threshold {
            state.open_until = Some(Instant::now() + self.open_for);
            self.open.store(true, Ordering::Release);
            return Change::Opened;
        }
        Change::None
    }
}

/// Lets one log line through per interval and counts the ones held back.
#[derive(Debug)]
pub(crate) struct RateLimitedLog {
    interval: Duration,
    started: Instant,
    /// Milliseconds after `started` of the last line let through, plus one (0: none yet).
    last: AtomicU64,
    suppressed: AtomicU64,
}

impl RateLimitedLog {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            started: Instant::now(),
            last: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(lines held back since the last one)` when a line may be logged now.
    pub(crate) fn permit(&self) -> Option<u64> {
        let now = u64::try_from(self.started.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let last = self.last.load(Ordering::Relaxed);
        let interval = u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX);
        if last != 0 && now.saturating_sub(last) < interval {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if self
            .last
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.suppressed.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_probes_once() {
        let circuit = Circuit::new(3, Duration::from_millis(50));
        assert_eq!(circuit.failure(), Change::None);
        assert_eq!(circuit.failure(), Change::None);
        assert!(circuit.allow());
        assert_eq!(circuit.failure(), Change::Opened);
        assert!(!circuit.allow());
        assert!(!circuit.is_closed());
        std::thread::sleep(Duration::from_millis(80));
        assert!(circuit.allow(), "the probe");
        assert!(!circuit.allow(), "only one probe at a time");
        assert_eq!(circuit.failure(), Change::Opened, "a failed probe reopens");
        assert!(!circuit.allow());
        std::thread::sleep(Duration::from_millis(80));
        assert!(circuit.allow());
        assert_eq!(circuit.success(), Change::Closed);
        assert!(circuit.allow() && circuit.is_closed());
    }

    #[test]
    fn a_success_resets_the_count() {
        let circuit = Circuit::new(2, Duration::from_secs(60));
        circuit.failure();
        circuit.success();
        assert_eq!(circuit.failure(), Change::None);
        assert!(circuit.is_closed());
    }

    #[test]
    fn the_log_lets_one_line_through_per_interval() {
        let log = RateLimitedLog::new(Duration::from_secs(60));
        assert_eq!(log.permit(), Some(0));
        assert_eq!(log.permit(), None);
        assert_eq!(log.permit(), None);
        let log = RateLimitedLog::new(Duration::ZERO);
        assert_eq!(log.permit(), Some(0));
        assert_eq!(log.permit(), Some(0));
    }
}
