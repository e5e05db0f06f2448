//! [`HttpClientSettings`]: one HTTP upstream's config section.

use std::time::Duration;

use boost_config::{ByteSize, Document, Problems, Validate};
use boost_tls::ClientTlsSettings;
use serde::{Deserialize, Serialize};

/// Most base URLs one client balances over.
const MAX_BASE_URLS: usize = 64;
/// Longest base URL accepted.
const MAX_URL_LEN: usize = 2048;

/// How a service calls one HTTP upstream: a section of the service's own
/// settings, such as `[cars]`.
///
/// ```toml
/// [cars]
/// base_urls = ["https://cars.partner.example/v2"]
/// timeout = "2s"
///
/// [cars.retry]
/// max_attempts = 3
///
/// # mTLS to the partner (optional; `https://` uses the system's roots without it)
/// [cars.tls]
/// ca_file = "/etc/tls/partner-ca.crt"
/// cert_file = "/etc/tls/client.crt"
/// key_file = "/etc/tls/client.key"
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = client_rules)]
#[non_exhaustive]
pub struct HttpClientSettings {
    /// Base URLs of the upstream (`http://` or `https://`, optionally with a
    /// path prefix such as `/v2`; no credentials, no query). Requests are
    /// balanced over them, and one that keeps failing is taken out of
    /// rotation for a while. 1 to 64. Default: none (required).
    pub base_urls: Vec<String>,
    /// Total time one request may take, retries, backoff and reading the
    /// response body included; shortened by the deadline of the request
    /// being served. More than 0. Default: `"2s"`.
    #[serde(with = "boost_config::duration")]
    pub timeout: Duration,
    /// A request header that tells the upstream how long it has: the whole
    /// milliseconds left of this request's deadline (the earlier of
    /// `timeout` and the deadline of the request being served), at least 1,
    /// sent with every attempt. Name what the upstream reads, e.g.
    /// `x-request-timeout-ms` (what a boost-http server reads when its
    /// `http.deadline_header` says so) or Envoy's
    /// `x-envoy-expected-rq-timeout-ms`. Unset: no header. Default: unset.
    pub deadline_header: Option<String>,
    /// Longest a TCP (and TLS) connection may take to open. More than 0.
    /// Default: `"1s"`.
    #[serde(with = "boost_config::duration")]
    pub connect_timeout: Duration,
    /// Largest response body read; a larger one fails the request
    /// (`BodyTooLarge`) instead of filling memory. More than 0. Default:
    /// `"4 MiB"`.
    pub max_response_body: ByteSize,
    /// Retries: which answers, how many, how far apart, within what budget.
    pub retry: HttpRetrySettings,
    /// Taking failing base URLs out of rotation.
    pub ejection: HttpEjectionSettings,
    /// Idle connections kept per host (scheme, host and port), for reuse.
    /// Default: `32`.
    pub pool_max_idle_per_host: usize,
    /// An idle pooled connection is closed after this. Default: `"90s"`.
    #[serde(with = "boost_config::duration")]
    pub pool_idle_timeout: Duration,
    /// TLS to `https://` base URLs: the CA bundle that verifies the upstream
    /// (`ca_file`; unset: the system's roots), the client certificate shown
    /// to it for mTLS (`cert_file` + `key_file`), and the name its
    /// certificate must carry (`server_name`; unset: each base URL's host).
    /// Not allowed when every base URL is `http://`. Files are re-read when
    /// they change. Default: all unset.
    pub tls: ClientTlsSettings,
    /// Record and replay of this client's requests, for tests (`record`,
    /// `replay`, `replay_or_record`; needs the `tape` feature): see
    /// `docs/replay.md`. Default: `mode = "off"`.
    pub tape: super::HttpTapeSettings,
}

impl Default for HttpClientSettings {
    fn default() -> Self {
        HttpClientSettings {
            base_urls: Vec::new(),
            timeout: Duration::from_secs(2),
            deadline_header: None,
            connect_timeout: Duration::from_secs(1),
            max_response_body: ByteSize::mib(4),
            retry: HttpRetrySettings::default(),
            ejection: HttpEjectionSettings::default(),
            pool_max_idle_per_host: 32,
            pool_idle_timeout: Duration::from_secs(90),
            tls: ClientTlsSettings::default(),
            tape: super::HttpTapeSettings::default(),
        }
    }
}

impl HttpClientSettings {
    /// The defaults, calling `base_urls`.
    pub fn with_base_urls<I, S>(base_urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        HttpClientSettings {
            base_urls: base_urls.into_iter().map(Into::into).collect(),
            ..HttpClientSettings::default()
        }
    }

    /// [`max_response_body`](Self::max_response_body) in bytes.
    pub fn max_response_body_bytes(&self) -> usize {
        usize::try_from(self.max_response_body.as_u64()).unwrap_or(usize::MAX)
    }
}

/// When an HTTP client tries a request again (`[<client>.retry]`).
///
/// A request is retried only when all of these hold: the attempt got no
/// answer because the connection could not be opened (always safe), or the
/// method is idempotent (`GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT`, `DELETE`,
/// or a request marked [`idempotent`](super::RequestBuilder::idempotent)) and
/// the attempt got a status in `statuses` or failed in transport; fewer than
/// `max_attempts` were made; the retry budget has credit; and the wait
/// (`Retry-After` when the upstream sent one, else full-jitter backoff) ends
/// before the deadline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = retry_rules)]
#[non_exhaustive]
pub struct HttpRetrySettings {
    /// Attempts per request, the first included; `1` turns retries off.
    /// 1 to 5. Default: `3`.
    pub max_attempts: u32,
    /// Response statuses worth another attempt. Default: `[429, 502, 503, 504]`.
    pub statuses: Vec<u16>,
    /// Upper bound of the first backoff (full jitter: the wait is random in
    /// `[0, bound]`). Default: `"25ms"`.
    #[serde(with = "boost_config::duration")]
    pub initial_backoff: Duration,
    /// Largest backoff bound. Default: `"1s"`.
    #[serde(with = "boost_config::duration")]
    pub max_backoff: Duration,
    /// Growth of the backoff bound per retry. At least 1. Default: `2.0`.
    pub multiplier: f64,
    /// Longest `Retry-After` waited for; an upstream asking for longer gets
    /// no retry (its answer is returned). Default: `"5s"`.
    #[serde(with = "boost_config::duration")]
    pub max_retry_after: Duration,
    /// Retries allowed per request, on average (the retry budget, as
    /// boost-rpc's): with `0.2`, a dead upstream sees about 1.2× the
    /// requests, not `max_attempts`×. 0 to 1000. Default: `0.2`.
    pub budget_ratio: f64,
    /// Retries always allowed per second, so a quiet client can retry.
    /// Default: `10`.
    pub budget_min_per_sec: u32,
    /// How long a request counts toward the budget. 1s to 60s. Default: `"10s"`.
    #[serde(with = "boost_config::duration")]
    pub budget_ttl: Duration,
}

impl Default for HttpRetrySettings {
    fn default() -> Self {
        HttpRetrySettings {
            max_attempts: 3,
            statuses: vec![429, 502, 503, 504],
            initial_backoff: Duration::from_millis(25),
            max_backoff: Duration::from_secs(1),
            multiplier: 2.0,
            max_retry_after: Duration::from_secs(5),
            budget_ratio: 0.2,
            budget_min_per_sec: 10,
            budget_ttl: Duration::from_secs(10),
        }
    }
}

/// When a base URL is taken out of rotation (`[<client>.ejection]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = ejection_rules)]
#[non_exhaustive]
pub struct HttpEjectionSettings {
    /// Failures in a row (no connection, a transport error, a timeout or a
    /// `5xx`) that take a base URL out; `0` never ejects. Default: `5`.
    pub consecutive_failures: u32,
    /// How long the first ejection lasts; each ejection in a row doubles it.
    /// Default: `"10s"`.
    #[serde(with = "boost_config::duration")]
    pub base_ejection: Duration,
    /// Longest ejection. At least `base_ejection`. Default: `"2m"`.
    #[serde(with = "boost_config::duration")]
    pub max_ejection: Duration,
}

impl Default for HttpEjectionSettings {
    fn default() -> Self {
        HttpEjectionSettings {
            consecutive_failures: 5,
            base_ejection: Duration::from_secs(10),
            max_ejection: Duration::from_secs(120),
        }
    }
}

fn client_rules(s: &HttpClientSettings, problems: &mut Problems) {
    if s.base_urls.is_empty() || s.base_urls.len() > MAX_BASE_URLS {
        problems.add(
            "base_urls",
            format!("must list 1 to {MAX_BASE_URLS} URLs, such as [\"https://api.example.com\"]"),
        );
    }
    for (i, url) in s.base_urls.iter().enumerate() {
        if let Err(why) = super::endpoints::Base::parse(url) {
            let shown = if url.len() > MAX_URL_LEN {
                "(too long)"
            } else {
                why
            };
            problems.add(&format!("base_urls[{i}]"), shown);
        }
    }
    let parsed: Vec<_> = s
        .base_urls
        .iter()
        .filter_map(|url| super::endpoints::Base::parse(url).ok())
        .collect();
    if super::tls::configured(&s.tls)
        && !parsed.is_empty()
        && parsed.iter().all(|b| b.scheme != http::uri::Scheme::HTTPS)
    {
        problems.add(
            "tls",
            "is set but every base URL is http:// (plaintext): write https:// to use TLS, \
             or remove the `tls` section",
        );
    }
    if s.timeout.is_zero() {
        problems.add("timeout", "must be more than 0 (e.g. \"2s\")");
    }
    if let Some(name) = &s.deadline_header {
        crate::settings::deadline_header_rule(problems, "deadline_header", name);
    }
    if s.connect_timeout.is_zero() {
        problems.add("connect_timeout", "must be more than 0 (e.g. \"1s\")");
    }
    if s.max_response_body.as_u64() == 0 {
        problems.add(
            "max_response_body",
            "must be more than 0: every response body needs a bound (e.g. \"4 MiB\")",
        );
    }
}

fn retry_rules(s: &HttpRetrySettings, problems: &mut Problems) {
    if !(1..=5).contains(&s.max_attempts) {
        problems.add("max_attempts", "must be between 1 and 5");
    }
    if s.statuses.iter().any(|&code| !(100..=599).contains(&code)) {
        problems.add("statuses", "must be HTTP status codes (100 to 599)");
    }
    if !(s.multiplier.is_finite() && s.multiplier >= 1.0) {
        problems.add("multiplier", "must be at least 1");
    }
    if !(s.budget_ratio.is_finite() && (0.0..=1000.0).contains(&s.budget_ratio)) {
        problems.add("budget_ratio", "must be between 0 and 1000");
    }
    if s.budget_ttl < Duration::from_secs(1) || s.budget_ttl > Duration::from_secs(60) {
        problems.add("budget_ttl", "must be between 1s and 60s");
    }
    if s.max_backoff < s.initial_backoff {
        problems.add("max_backoff", "must be at least retry.initial_backoff");
    }
}

fn ejection_rules(s: &HttpEjectionSettings, problems: &mut Problems) {
    if s.max_ejection < s.base_ejection {
        problems.add("max_ejection", "must be at least ejection.base_ejection");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_required_and_checked() {
        let err = Problems::of("cars", &HttpClientSettings::default())
            .into_result("t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cars.base_urls"), "{err}");
        let settings = HttpClientSettings::with_base_urls([
            "https://api.example.com/v2",
            "ftp://x",
            "https://user:pw@api.example.com",
        ]);
        let err = Problems::of("cars", &settings)
            .into_result("t")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cars.base_urls[1]") && err.contains("cars.base_urls[2]"),
            "{err}"
        );
        assert!(!err.contains("cars.base_urls[0]"), "{err}");
        assert!(!err.contains("pw@"), "credentials never shown: {err}");
    }
}
