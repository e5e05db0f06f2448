//! Which attempts are tried again, and after how long.
//!
//! The budget is boost-rpc's [`RetryBudget`](boost_rpc::client::retry::RetryBudget)
//! (one deposit per request, one withdrawal per retry), so HTTP and gRPC
//! upstreams see the same bounded amplification when they fail. The backoff
//! is "full jitter" (a random wait in `[0, min(initial · multiplierⁿ⁻¹, max)]`),
//! as boost-rpc's; an upstream's `Retry-After` (seconds or an HTTP date)
//! replaces it, up to `retry.max_retry_after`.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, StatusCode, header::RETRY_AFTER};
use rand::Rng;

use super::settings::HttpRetrySettings;

/// Whether `method` may be sent twice with the same effect (RFC 9110 §9.2.2).
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Whether an answer with `status` is worth another attempt.
pub(crate) fn retryable_status(settings: &HttpRetrySettings, status: StatusCode) -> bool {
    settings.statuses.contains(&status.as_u16())
}

/// The wait `Retry-After` asks for, if the answer carries a valid one.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if value.len() > 64 {
        return None;
    }
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A full-jitter wait before retry `n` (1-based).
pub(crate) fn backoff(settings: &HttpRetrySettings, retry: u32) -> Duration {
    let exp = settings
        .multiplier
        .max(1.0)
        .powi(retry.saturating_sub(1).min(32) as i32);
    let bound =
        (settings.initial_backoff.as_secs_f64() * exp).min(settings.max_backoff.as_secs_f64());
    let bound = Duration::try_from_secs_f64(bound.max(0.0)).unwrap_or(settings.max_backoff);
    if bound.is_zero() {
        return bound;
    }
    rand::rng().random_range(Duration::ZERO..=bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::now();
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(3)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        headers.insert(RETRY_AFTER, later.parse().unwrap());
        let wait = retry_after(&headers, now).unwrap();
        assert!(
            wait <= Duration::from_secs(120) && wait >= Duration::from_secs(118),
            "{wait:?}"
        );
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn backoff_is_bounded_and_grows() {
        let settings = HttpRetrySettings::default();
        for retry in 1..10 {
            assert!(backoff(&settings, retry) <= settings.max_backoff);
        }
        assert!(backoff(&settings, 1) <= settings.initial_backoff);
    }

    #[test]
    fn only_safe_methods_are_idempotent() {
        assert!(is_idempotent(&Method::GET) && is_idempotent(&Method::PUT));
        assert!(!is_idempotent(&Method::POST) && !is_idempotent(&Method::PATCH));
    }
}
