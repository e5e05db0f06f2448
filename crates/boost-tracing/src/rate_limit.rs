//! Per-callsite rate limiting of log events.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing_core::callsite::Identifier;

/// The metric counting events dropped by rate limiting.
pub const LOG_SUPPRESSED_EVENTS_TOTAL: &str = "log_suppressed_events_total";

const WINDOW: Duration = Duration::from_secs(1);

/// What to do with one event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Write it; `suppressed` events from this call site were dropped in the window before.
    Write { suppressed: u64 },
    /// Drop it.
    Suppress,
}

/// At most `per_second` events per call site per one-second window.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    per_second: u32,
    windows: Mutex<HashMap<Identifier, Window>>,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    written: u32,
    suppressed: u64,
}

impl RateLimiter {
    pub(crate) fn new(per_second: u32) -> Self {
        Self {
            per_second,
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn check(&self, callsite: Identifier, now: Instant) -> Verdict {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let w = windows.entry(callsite).or_insert(Window {
            start: now,
            written: 0,
            suppressed: 0,
        });
        let mut carried = 0;
        if now.duration_since(w.start) >= WINDOW {
            carried = std::mem::take(&mut w.suppressed);
            w.start = now;
            w.written = 0;
        }
        if w.written < self.per_second {
            w.written += 1;
            Verdict::Write {
                suppressed: carried,
            }
        } else {
            w.suppressed += 1;
            drop(windows);
            metrics::counter!(LOG_SUPPRESSED_EVENTS_TOTAL).increment(1);
            Verdict::Suppress
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_n_per_window_then_reports_suppressed_count() {
        let limiter = RateLimiter::new(2);
        struct Cs;
        impl tracing_core::Callsite for Cs {
            fn set_interest(&self, _: tracing_core::Interest) {}
            fn metadata(&self) -> &tracing_core::Metadata<'_> {
                unimplemented!()
            }
        }
        static CS: Cs = Cs;
        let id = Identifier(&CS);
        let t0 = Instant::now();
        assert_eq!(
            limiter.check(id.clone(), t0),
            Verdict::Write { suppressed: 0 }
        );
        assert_eq!(
            limiter.check(id.clone(), t0),
            Verdict::Write { suppressed: 0 }
        );
        assert_eq!(limiter.check(id.clone(), t0), Verdict::Suppress);
        assert_eq!(limiter.check(id.clone(), t0), Verdict::Suppress);
        let t1 = t0 + Duration::from_millis(1001);
        assert_eq!(
            limiter.check(id.clone(), t1),
            Verdict::Write { suppressed: 2 }
        );
        assert_eq!(limiter.check(id, t1), Verdict::Write { suppressed: 0 });
    }
}
