//! The request's deadline: `http.request_timeout` from the request's arrival,
//! shortened by the caller's deadline header when one is configured.
//!
//! The handler runs inside [`boost_rpc::deadline::scope`], the task-local the
//! gRPC server layers set too, so boost-rpc and boost-http clients called
//! while serving never wait past it. tower-http's `TimeoutLayer` answers `408`
//! (which says the *client* was too slow sending its request) with an empty
//! body and sets no deadline for outbound calls; this answers `504` with a
//! problem body.

use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderName, StatusCode};

use crate::Problem;

/// Longest deadline header value read (digits of milliseconds).
const MAX_HEADER_DIGITS: usize = 12;

/// How a request's deadline is found.
#[derive(Debug, Clone)]
pub(crate) struct DeadlinePolicy {
    pub(crate) timeout: Duration,
    pub(crate) header: Option<HeaderName>,
}

impl DeadlinePolicy {
    /// The deadline of a request that arrived at `start` with `headers`.
    pub(crate) fn deadline(&self, start: Instant, headers: &HeaderMap) -> Instant {
        let asked = self
            .header
            .as_ref()
            .and_then(|name| headers.get(name))
            .and_then(|value| parse_millis(value.as_bytes()));
        let timeout = match asked {
            Some(asked) => asked.min(self.timeout),
            None => self.timeout,
        };
        start.checked_add(timeout).unwrap_or(start)
    }
}

/// `800` → 800 ms; anything but 1–12 ASCII digits → `None`.
fn parse_millis(value: &[u8]) -> Option<Duration> {
    if value.is_empty() || value.len() > MAX_HEADER_DIGITS || !value.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    let text = std::str::from_utf8(value).ok()?;
    text.parse::<u64>().ok().map(Duration::from_millis)
}

/// The answer when the deadline passes before the handler answered.
pub(crate) fn timed_out(budget: Duration) -> Problem {
    Problem::new(StatusCode::GATEWAY_TIMEOUT).with_detail(format!(
        "the request did not complete within its deadline ({} ms)",
        budget.as_millis()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_can_shorten_but_never_lengthen() {
        let policy = DeadlinePolicy {
            timeout: Duration::from_secs(2),
            header: Some(HeaderName::from_static("x-request-timeout-ms")),
        };
        let now = Instant::now();
        let mut headers = HeaderMap::new();
        assert_eq!(policy.deadline(now, &headers), now + Duration::from_secs(2));
        headers.insert("x-request-timeout-ms", "250".parse().unwrap());
        assert_eq!(
            policy.deadline(now, &headers),
            now + Duration::from_millis(250)
        );
        headers.insert("x-request-timeout-ms", "999999".parse().unwrap());
        assert_eq!(policy.deadline(now, &headers), now + Duration::from_secs(2));
        for bad in ["-5", "1.5", "", "9999999999999", "12ms"] {
            headers.insert("x-request-timeout-ms", bad.parse().unwrap());
            assert_eq!(
                policy.deadline(now, &headers),
                now + Duration::from_secs(2),
                "{bad:?}"
            );
        }
    }
}
