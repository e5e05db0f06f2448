//! [`RateLimitSettings`]: per-key rate limits (`[grpc.server.rate_limit]`,
//! `[http.rate_limit]`).

use std::time::Duration;

use boost_config::{Document, Problems, Validate};
use serde::{Deserialize, Serialize};

/// The most keys a limiter may be told to track.
const MAX_KEYS: usize = 1_000_000;
/// The longest key length that may be configured.
const MAX_KEY_LENGTH: usize = 1024;
/// The highest rate or burst that may be configured.
const MAX_RATE: u32 = 1_000_000;

/// What a request's key is.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Validate, Document,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RateLimitKey {
    /// The identity the caller proved with its client certificate (mTLS):
    /// its first URI name (a SPIFFE ID), else DNS name, else subject.
    #[default]
    Peer,
    /// The value of the request header (gRPC metadata) named by `header`,
    /// such as an API key or a tenant id.
    Header,
}

/// Rate limits per caller: each key (a caller identity or a header value)
/// may make `per_second` requests a second, with bursts of `burst`, by the
/// GCRA (the `governor` crate). Off by default. See
/// [`rate_limit`](super) for the buckets and how the key set stays bounded.
///
/// ```toml
/// [grpc.server.rate_limit]
/// enabled = true
/// key = "header"
/// header = "x-tenant"
/// per_second = 50
/// burst = 100
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = rules)]
#[non_exhaustive]
pub struct RateLimitSettings {
    /// Whether requests are rate limited per key. Default: `false`.
    pub enabled: bool,
    /// What identifies a caller: `peer` (its verified client certificate's
    /// identity; needs mTLS, `tls.client_auth`) or `header` (the value of
    /// `header`). Requests without a key share one bucket, `default`.
    /// Default: `peer`.
    pub key: RateLimitKey,
    /// The request header (gRPC metadata key) holding the key, with
    /// `key = "header"`: lower case, e.g. `x-tenant` or `x-api-key`.
    /// Default: unset.
    pub header: Option<String>,
    /// Requests a key may make per second, sustained. From 1 to 1,000,000.
    /// Default: `100`.
    pub per_second: u32,
    /// Requests a key may make at once after being idle (the bucket's
    /// size). From 1 to 1,000,000. Default: `100`.
    pub burst: u32,
    /// Keys tracked at once. While this many are tracked, a new key shares
    /// the `overflow` bucket until idle keys are forgotten. From 1 to
    /// 1,000,000. Default: `10000` (at most a few hundred bytes a key with
    /// `max_key_length = 128`: 1 to 3 MiB).
    pub max_keys: usize,
    /// Longest key kept, in bytes; a longer value counts in the `default`
    /// bucket, as a missing one does. From 1 to 1024. Default: `128`.
    pub max_key_length: usize,
    /// How often keys idle long enough to have a full bucket again are
    /// forgotten (they would be treated the same if they came back). From
    /// `1s` to `1h`. Default: `"10s"`.
    #[serde(with = "boost_config::duration")]
    pub cleanup_interval: Duration,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            key: RateLimitKey::Peer,
            header: None,
            per_second: 100,
            burst: 100,
            max_keys: 10_000,
            max_key_length: 128,
            cleanup_interval: Duration::from_secs(10),
        }
    }
}

impl RateLimitSettings {
    /// These settings, on, keyed by the header `name`.
    #[must_use]
    pub fn by_header(mut self, name: impl Into<String>) -> Self {
        self.enabled = true;
        self.key = RateLimitKey::Header;
        self.header = Some(name.into());
        self
    }

    /// These settings, on, keyed by the caller's certificate identity.
    #[must_use]
    pub fn by_peer(mut self) -> Self {
        self.enabled = true;
        self.key = RateLimitKey::Peer;
        self
    }

    /// These settings with `per_second` and `burst`.
    #[must_use]
    pub fn with_rate(mut self, per_second: u32, burst: u32) -> Self {
        self.per_second = per_second;
        self.burst = burst;
        self
    }

    /// These settings tracking at most `max_keys` keys.
    #[must_use]
    pub fn with_max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// The header name, when `key = "header"` and it is valid.
    pub(crate) fn header_name(&self) -> Option<http::HeaderName> {
        match self.key {
            RateLimitKey::Header => self
                .header
                .as_deref()
                .and_then(|name| http::HeaderName::from_bytes(name.as_bytes()).ok()),
            RateLimitKey::Peer => None,
        }
    }
}

fn rules(settings: &RateLimitSettings, problems: &mut Problems) {
    if !(1..=MAX_RATE).contains(&settings.per_second) {
        problems.add("per_second", format!("must be from 1 to {MAX_RATE}"));
    }
    if !(1..=MAX_RATE).contains(&settings.burst) {
        problems.add("burst", format!("must be from 1 to {MAX_RATE}"));
    }
    if !(1..=MAX_KEYS).contains(&settings.max_keys) {
        problems.add("max_keys", format!("must be from 1 to {MAX_KEYS}"));
    }
    if !(1..=MAX_KEY_LENGTH).contains(&settings.max_key_length) {
        problems.add(
            "max_key_length",
            format!("must be from 1 to {MAX_KEY_LENGTH} bytes"),
        );
    }
    if settings.cleanup_interval < Duration::from_secs(1)
        || settings.cleanup_interval > Duration::from_secs(3600)
    {
        problems.add("cleanup_interval", "must be from 1s to 1h");
    }
    match (settings.key, settings.header.as_deref()) {
        (RateLimitKey::Header, None) => problems.add(
            "header",
            "must name the request header holding the key when key = \"header\" (e.g. \"x-tenant\")",
        ),
        (RateLimitKey::Header, Some(name)) => {
            let valid = !name.is_empty()
                && name.len() <= 128
                && http::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && !name.bytes().any(|b| b.is_ascii_uppercase());
            if !valid {
                problems.add(
                    "header",
                    format!("{name:?} is not a lower-case header name of at most 128 bytes (e.g. \"x-tenant\")"),
                );
            }
        }
        (RateLimitKey::Peer, Some(_)) => problems.add(
            "header",
            "is only read with key = \"header\"; set key = \"header\" or remove it",
        ),
        (RateLimitKey::Peer, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(settings: &RateLimitSettings) -> String {
        Problems::of("grpc.server.rate_limit", settings)
            .into_result("test")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn defaults_are_valid_and_off() {
        let settings = RateLimitSettings::default();
        assert!(!settings.enabled);
        assert_eq!(problems(&settings), "");
    }

    #[test]
    fn bad_values_are_refused_under_their_keys() {
        let mut settings = RateLimitSettings::default()
            .with_rate(0, 0)
            .with_max_keys(0);
        settings.key = RateLimitKey::Header;
        settings.max_key_length = 5000;
        settings.cleanup_interval = Duration::from_millis(10);
        let text = problems(&settings);
        for key in [
            "rate_limit.per_second",
            "rate_limit.burst",
            "rate_limit.max_keys",
            "rate_limit.max_key_length",
            "rate_limit.cleanup_interval",
            "rate_limit.header",
        ] {
            assert!(text.contains(key), "{key} missing from {text}");
        }
        let upper = RateLimitSettings::default().by_header("X-Tenant");
        assert!(problems(&upper).contains("lower-case"));
    }
}
