//! [`HttpSettings`]: the `[http]` section, where and how a service serves HTTP.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use boost_config::{ByteSize, Document, Problems, Validate};
use serde::{Deserialize, Serialize};

/// Longest header name [`HttpSettings::deadline_header`] may be.
const MAX_HEADER_NAME: usize = 64;

/// Where and how a service serves HTTP (`[http]`).
///
/// ```toml
/// [http]
/// listen = "0.0.0.0:8080"
/// request_timeout = "10s"
/// max_request_body = "256 KiB"
/// concurrency_limit = 512
/// deadline_header = "x-request-timeout-ms"
/// ```
///
/// [`server::stack`](crate::server::stack) reads the per-request knobs;
/// boost-service's HTTP server reads `listen` and the connection knobs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = http_rules)]
#[non_exhaustive]
pub struct HttpSettings {
    /// Address the HTTP server listens on; port `0` picks a free one.
    /// Default: `127.0.0.1:8080` (loopback: set `0.0.0.0:8080` to serve other
    /// hosts).
    pub listen: SocketAddr,
    /// Longest a request may take, from its head arriving to its response
    /// head. Past it the caller gets `504` (problem+json) and the handler is
    /// dropped. Outbound boost-rpc and boost-http calls made while serving
    /// never wait past it. Between `1ms` and `1h`. Default: `"30s"`.
    #[serde(with = "boost_config::duration")]
    pub request_timeout: Duration,
    /// A request header by which a caller (or the proxy in front) can
    /// shorten `request_timeout` for its request, in milliseconds
    /// (e.g. `x-request-timeout-ms: 800`, or Envoy's
    /// `x-envoy-expected-rq-timeout-ms`). A malformed value is ignored; it
    /// can never lengthen the timeout. Unset: callers cannot set a deadline.
    /// Default: unset.
    pub deadline_header: Option<String>,
    /// Largest request body accepted; a larger one is refused with `413`
    /// (problem+json) — at once when `content-length` says so, else when the
    /// handler reads past it. More than 0. Default: `"2 MiB"` (axum's own
    /// default).
    pub max_request_body: ByteSize,
    /// Requests handled at the same time; one more is refused at once with
    /// `503` and `Retry-After` (no queueing, so an overloaded service fails
    /// fast and the caller can go elsewhere). `0` turns the limit off.
    /// Default: `1024`.
    pub concurrency_limit: usize,
    /// What the `Retry-After` header of a shed request says (whole seconds,
    /// rounded up). Between `1s` and `1h`. Default: `"1s"`.
    #[serde(with = "boost_config::duration")]
    pub retry_after: Duration,
    /// Connections open at once; more are closed as soon as they are
    /// accepted (counted in `server_connections_rejected_total{server="http"}`).
    /// Between 1 and 1,000,000. Default: `1024`.
    pub max_connections: usize,
    /// A connection with no request in flight for this long is closed
    /// (nginx's `keepalive_timeout`). Between `1s` and `24h`. Default: `"60s"`.
    #[serde(with = "boost_config::duration")]
    pub idle_timeout: Duration,
    /// Every request head must arrive complete within this of its first byte,
    /// else the connection is closed (slowloris; nginx's
    /// `client_header_timeout`). Between `100ms` and `10m`. Default: `"10s"`.
    #[serde(with = "boost_config::duration")]
    pub header_read_timeout: Duration,
    /// HTTPS for the HTTP server (`[http.tls]`, the kit's one server `tls`
    /// shape), and mTLS when `client_auth` is `optional` or `require`. Each
    /// handshake runs within `handshake_timeout`, under `max_connections`;
    /// certificate, key and CA files are re-read when they change. Default:
    /// off (plaintext).
    pub tls: boost_tls::ServerTlsSettings,
    /// Rate limits per caller key (`[http.rate_limit]`): a header's value
    /// (an API key, a tenant) or the caller's certificate identity (mTLS),
    /// GCRA; a request over its key's rate gets `429` with `Retry-After`.
    /// Off by default. The same settings as `[grpc.server.rate_limit]`.
    pub rate_limit: boost_rpc::rate_limit::RateLimitSettings,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            request_timeout: Duration::from_secs(30),
            deadline_header: None,
            max_request_body: ByteSize::mib(2),
            concurrency_limit: 1024,
            retry_after: Duration::from_secs(1),
            max_connections: 1024,
            idle_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(10),
            tls: boost_tls::ServerTlsSettings::default(),
            rate_limit: boost_rpc::rate_limit::RateLimitSettings::default(),
        }
    }
}

impl HttpSettings {
    /// The defaults, listening on `listen`.
    pub fn new(listen: SocketAddr) -> Self {
        HttpSettings {
            listen,
            ..HttpSettings::default()
        }
    }

    /// [`max_request_body`](Self::max_request_body) in bytes.
    pub fn max_request_body_bytes(&self) -> usize {
        usize::try_from(self.max_request_body.as_u64()).unwrap_or(usize::MAX)
    }

    /// [`deadline_header`](Self::deadline_header) as a header name, when set
    /// and valid (the rules refuse an invalid one at load time).
    pub fn deadline_header_name(&self) -> Option<http::HeaderName> {
        self.deadline_header
            .as_deref()
            .and_then(|name| http::HeaderName::from_bytes(name.as_bytes()).ok())
    }
}

fn between(
    problems: &mut Problems,
    key: &str,
    value: Duration,
    min: Duration,
    max: Duration,
    shown: &str,
) {
    if value < min || value > max {
        problems.add(key, format!("must be between {shown}"));
    }
}

/// The rules of [`HttpSettings`].
fn http_rules(s: &HttpSettings, problems: &mut Problems) {
    let ms = Duration::from_millis;
    let secs = Duration::from_secs;
    if s.rate_limit.enabled
        && s.rate_limit.key == boost_rpc::rate_limit::RateLimitKey::Peer
        && (!s.tls.enabled || s.tls.client_auth == boost_tls::ClientAuth::Off)
    {
        problems.add(
            "rate_limit.key",
            "is `peer`, which needs callers' certificates: set `http.tls.enabled = true` and \
             `http.tls.client_auth`, or key the limit by a header (`key = \"header\"`, \
             `header = \"x-api-key\"`); without them every request would share the default bucket",
        );
    }
    between(
        problems,
        "request_timeout",
        s.request_timeout,
        ms(1),
        secs(3600),
        "1ms and 1h",
    );
    between(
        problems,
        "retry_after",
        s.retry_after,
        secs(1),
        secs(3600),
        "1s and 1h",
    );
    between(
        problems,
        "idle_timeout",
        s.idle_timeout,
        secs(1),
        secs(24 * 3600),
        "1s and 24h",
    );
    between(
        problems,
        "header_read_timeout",
        s.header_read_timeout,
        ms(100),
        secs(600),
        "100ms and 10m",
    );
    if s.max_request_body.as_u64() == 0 {
        problems.add(
            "max_request_body",
            "must be more than 0: every request body needs a bound (e.g. \"2 MiB\")",
        );
    }
    if !(1..=1_000_000).contains(&s.max_connections) {
        problems.add("max_connections", "must be between 1 and 1000000");
    }
    if let Some(name) = &s.deadline_header {
        deadline_header_rule(problems, "deadline_header", name);
    }
}

/// A deadline header name (`http.deadline_header`, a client's
/// `deadline_header`): lower case, valid, at most [`MAX_HEADER_NAME`].
pub(crate) fn deadline_header_rule(problems: &mut Problems, key: &str, name: &str) {
    let valid = name.len() <= MAX_HEADER_NAME
        && http::HeaderName::from_bytes(name.as_bytes()).is_ok()
        && name.bytes().all(|b| !b.is_ascii_uppercase());
    if !valid {
        problems.add(
            key,
            format!(
                "must be a lower-case HTTP header name of at most {MAX_HEADER_NAME} \
                 characters, such as \"x-request-timeout-ms\""
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_by_peer_needs_client_certificates() {
        let mut settings = HttpSettings {
            rate_limit: boost_rpc::rate_limit::RateLimitSettings::default().by_peer(),
            ..HttpSettings::default()
        };
        let text = Problems::of("http", &settings)
            .into_result("HTTP settings")
            .unwrap_err()
            .to_string();
        assert!(text.contains("http.rate_limit.key"), "{text}");
        settings.rate_limit =
            boost_rpc::rate_limit::RateLimitSettings::default().by_header("x-api-key");
        assert!(
            Problems::of("http", &settings)
                .into_result("HTTP settings")
                .is_ok()
        );
    }

    #[test]
    fn defaults_listen_on_8080_and_pass_their_rules() {
        let settings = HttpSettings::default();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert!(Problems::of("http", &settings).into_result("t").is_ok());
    }

    #[test]
    fn bad_values_are_named_by_key() {
        let mut settings = HttpSettings {
            request_timeout: Duration::ZERO,
            max_request_body: ByteSize::b(0),
            deadline_header: Some("Bad Header".into()),
            ..HttpSettings::default()
        };
        settings.max_connections = 0;
        let err = Problems::of("http", &settings)
            .into_result("t")
            .unwrap_err()
            .to_string();
        for key in [
            "http.request_timeout",
            "http.max_request_body",
            "http.deadline_header",
            "http.max_connections",
        ] {
            assert!(err.contains(key), "{key} missing from {err}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<HttpSettings>("lisen = \"127.0.0.1:1\"").is_err());
    }
}
