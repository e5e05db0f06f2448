//! [`RefusalLimiter`]: how many refused admin requests become audit records.
//!
//! Anyone who reaches the admin port can be refused, and every audit record
//! is an fsync and bytes in a file of bounded size (`audit.max_file_size`).
//! Unbounded, a flood of bad requests would fill the file, and then every
//! real change — a switch flipped during an incident — is refused because
//! it cannot be audited. So at most [`PER_WINDOW`] refusals a minute are
//! recorded one by one; the rest are counted, and the next record says how
//! many it stands for. Refusals also stop being recorded once the file is
//! three quarters full, leaving the rest to authorized actions.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Refusals recorded one by one per [`WINDOW`].
pub(super) const PER_WINDOW: u32 = 30;

/// The window [`PER_WINDOW`] counts in.
const WINDOW: Duration = Duration::from_secs(60);

/// The longest request target a refusal record quotes; a longer one is cut
/// (a 2 KiB path would otherwise make every record 2 KiB).
pub(super) const MAX_TARGET: usize = 200;

/// Whether a refusal is recorded.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Admit {
    /// Record it, saying how many refusals before it were only counted.
    Record { unrecorded_before: u64 },
    /// Count it only; `first` for the first one of its window (log it).
    Count { first: bool },
}

/// See the [module docs](self).
#[derive(Debug)]
pub(crate) struct RefusalLimiter {
    window: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    recorded: u32,
    unrecorded: u64,
}

impl Default for RefusalLimiter {
    fn default() -> Self {
        Self {
            window: Mutex::new(Window {
                started: Instant::now(),
                recorded: 0,
                unrecorded: 0,
            }),
        }
    }
}

impl RefusalLimiter {
    /// Decides about one refusal happening `now`.
    pub(super) fn admit(&self, now: Instant) -> Admit {
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if now.saturating_duration_since(window.started) >= WINDOW {
            window.started = now;
            window.recorded = 0;
        }
        if window.recorded < PER_WINDOW {
            window.recorded += 1;
            Admit::Record {
                unrecorded_before: std::mem::take(&mut window.unrecorded),
            }
        } else {
            // A window's first refusal is always recorded and takes the count,
            // so the count is this window's alone.
            window.unrecorded = window.unrecorded.saturating_add(1);
            Admit::Count {
                first: window.unrecorded == 1,
            }
        }
    }
}

/// `target` cut to [`MAX_TARGET`] bytes at a character boundary, marked.
pub(super) fn bounded(target: &str) -> String {
    if target.len() <= MAX_TARGET {
        return target.to_owned();
    }
    let mut end = MAX_TARGET;
    while !target.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &target[..end], target.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_limit_refusals_are_counted_and_the_next_record_says_how_many() {
        let limiter = RefusalLimiter::default();
        let start = Instant::now();
        for _ in 0..PER_WINDOW {
            assert_eq!(
                limiter.admit(start),
                Admit::Record {
                    unrecorded_before: 0
                }
            );
        }
        assert_eq!(limiter.admit(start), Admit::Count { first: true });
        for _ in 0..9 {
            assert_eq!(limiter.admit(start), Admit::Count { first: false });
        }
        assert_eq!(
            limiter.admit(start + WINDOW),
            Admit::Record {
                unrecorded_before: 10
            }
        );
        assert_eq!(
            limiter.admit(start + WINDOW),
            Admit::Record {
                unrecorded_before: 0
            }
        );
    }

    #[test]
    fn a_long_target_is_cut_at_a_character_boundary() {
        assert_eq!(bounded("PUT /flags/x"), "PUT /flags/x");
        let long = format!("PUT /flags/{}", "é".repeat(300));
        let cut = bounded(&long);
        assert!(cut.len() < MAX_TARGET + 20, "{}", cut.len());
        assert!(cut.ends_with(&format!("({} bytes)", long.len())), "{cut}");
    }
}
