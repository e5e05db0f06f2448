//! The two settings sections the runtime shell reads: `[admin]` and `[lifecycle]`.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use boost_config::Secret;
use serde::{Deserialize, Serialize};

/// The `[admin]` section: where the admin HTTP server listens and the token that
/// unlocks its state-changing endpoints.
///
/// ```
/// use boost_service::AdminSettings;
///
/// let admin: AdminSettings = toml::from_str(r#"
///     listen = "127.0.0.1:8081"
///     token = "a-long-random-string"
/// "#).unwrap();
/// assert_eq!(admin.listen.port(), 8081);
/// assert_eq!(format!("{:?}", admin.token), "Some([REDACTED])");
/// ```
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    boost_config::Document,
    boost_config::Validate,
)]
#[validate(custom = AdminSettings::rules)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AdminSettings {
    /// Address of the admin HTTP server (`/metrics`, `/health/*`, `/info`,
    /// `/config`, `/loglevel`). Default `127.0.0.1:8081`: loopback, so only
    /// processes on the same host (or in the same pod) can reach it. In
    /// Kubernetes, kubelet probes and Prometheus scrapes come to the pod's
    /// address: set `0.0.0.0:8081` there and keep the port off public networks.
    /// Port `0` picks a free port (tests).
    pub listen: SocketAddr,
    /// Bearer token required by state-changing endpoints (`PUT /loglevel`).
    /// Default: none, and those endpoints answer `403` saying how to enable them.
    /// Use a long random string; it is compared in constant time and never
    /// logged (audit events carry its fingerprint, see the crate docs).
    pub token: Option<Secret<String>>,
    /// How long one admin request may take, waiting for its turn included
    /// (at most 32 are handled at once); past it the answer is `503`. Every
    /// endpoint answers in milliseconds and readiness checks have their own
    /// shorter timeout, so only a stuck handler reaches it. Default `30s`.
    #[serde(with = "boost_config::duration")]
    pub request_timeout: Duration,
    /// Connections served at once; one beyond it (and beyond
    /// `probe_connections`) is closed as soon as it is accepted, counted in
    /// `server_connections_rejected_total{server="admin"}`. Default `64`.
    pub max_connections: usize,
    /// Connections kept beyond `max_connections` for health probes: while
    /// the cap is full, a new connection may still ask `/health/*` (anything
    /// else gets `503`), so probes answer during a connection flood (Envoy
    /// reserves connections for health checks the same way). Default `4`.
    pub probe_connections: usize,
    /// A connection with no request in flight for this long is closed
    /// (nginx's `keepalive_timeout`). Between `1s` and `1h`. Default `60s`.
    #[serde(with = "boost_config::duration")]
    pub idle_timeout: Duration,
    /// A request's head (request line and headers) must arrive within this of
    /// its first byte — of the connection's opening for the first request —
    /// or the connection is closed (slowloris; nginx's
    /// `client_header_timeout`). Between `100ms` and `10m`. Default `10s`.
    #[serde(with = "boost_config::duration")]
    pub header_read_timeout: Duration,
    /// A request's body (at most 16 KiB, else `413`) must arrive within this,
    /// or the answer is `408` (nginx's `client_body_timeout`); a slow body
    /// holds no slot of the 32 handled at once, and health probes never wait
    /// behind one. Between `100ms` and `10m`. Default `5s`.
    #[serde(with = "boost_config::duration")]
    pub body_timeout: Duration,
    /// HTTPS for the admin server (same keys as `grpc.tls`). Off by default:
    /// the admin server listens on loopback. With `client_auth = "require"`,
    /// probes and scrapes must show a client certificate too (kubelet's
    /// HTTPS probes cannot: keep `optional` or `off` where they probe).
    pub tls: boost_tls::ServerTlsSettings,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8081)),
            token: None,
            request_timeout: Duration::from_secs(30),
            max_connections: 64,
            probe_connections: 4,
            idle_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(5),
            tls: boost_tls::ServerTlsSettings::default(),
        }
    }
}

impl AdminSettings {
    /// Settings listening on `listen`, with no token.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            ..Self::default()
        }
    }

    /// Sets the bearer token for state-changing endpoints.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(Secret::new(token.into()));
        self
    }

    /// Sets how long one admin request may take before it is answered `503`.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets [`max_connections`](Self::max_connections) and
    /// [`probe_connections`](Self::probe_connections).
    pub fn with_max_connections(mut self, max: usize, probes: usize) -> Self {
        self.max_connections = max;
        self.probe_connections = probes;
        self
    }

    /// Serves HTTPS (and mTLS) as `tls` says.
    #[must_use]
    pub fn with_tls(mut self, tls: boost_tls::ServerTlsSettings) -> Self {
        self.tls = tls;
        self
    }

    /// Sets [`idle_timeout`](Self::idle_timeout),
    /// [`header_read_timeout`](Self::header_read_timeout) and
    /// [`body_timeout`](Self::body_timeout).
    pub fn with_connection_timeouts(
        mut self,
        idle: Duration,
        header_read: Duration,
        body: Duration,
    ) -> Self {
        self.idle_timeout = idle;
        self.header_read_timeout = header_read;
        self.body_timeout = body;
        self
    }
}

/// The `[lifecycle]` section: readiness checks and the graceful-shutdown timings.
///
/// The defaults fit Kubernetes' default `terminationGracePeriodSeconds` of 30 s:
/// 5 s of drain delay plus 20 s for in-flight work leaves headroom for
/// flushing telemetry before the kubelet's SIGKILL.
///
/// ```
/// use std::time::Duration;
/// use boost_service::LifecycleSettings;
///
/// let lifecycle: LifecycleSettings = toml::from_str(r#"
///     drain_delay = "2s"
///     shutdown_timeout = "10s"
/// "#).unwrap();
/// assert_eq!(lifecycle.drain_delay, Duration::from_secs(2));
/// assert_eq!(lifecycle.readiness_timeout, Duration::from_millis(500));
/// ```
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    boost_config::Document,
    boost_config::Validate,
)]
#[validate(custom = LifecycleSettings::rules)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LifecycleSettings {
    /// How long to keep serving after shutdown starts (readiness already
    /// `503`) so load balancers notice and stop sending new requests. Default `5s`.
    #[serde(with = "boost_config::duration")]
    pub drain_delay: Duration,
    /// How long in-flight work has to finish once tasks are told to stop
    /// accepting; tasks still running after it are aborted and `run` returns an
    /// error. Default `20s`.
    #[serde(with = "boost_config::duration")]
    pub shutdown_timeout: Duration,
    /// How long a `/health/ready` result is reused before the checks run again,
    /// so frequent probes do not hammer dependencies. Default `1s`.
    #[serde(with = "boost_config::duration")]
    pub readiness_cache_ttl: Duration,
    /// Timeout of a readiness check that does not set its own; a check that takes
    /// longer counts as failed. Default `500ms` (well under the kubelet's 1 s
    /// probe timeout).
    #[serde(with = "boost_config::duration")]
    pub readiness_timeout: Duration,
}

impl Default for LifecycleSettings {
    fn default() -> Self {
        Self {
            drain_delay: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(20),
            readiness_cache_ttl: Duration::from_secs(1),
            readiness_timeout: Duration::from_millis(500),
        }
    }
}

impl LifecycleSettings {
    /// Sets [`drain_delay`](Self::drain_delay).
    pub fn with_drain_delay(mut self, delay: Duration) -> Self {
        self.drain_delay = delay;
        self
    }

    /// Sets [`shutdown_timeout`](Self::shutdown_timeout).
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Sets [`readiness_cache_ttl`](Self::readiness_cache_ttl).
    pub fn with_readiness_cache_ttl(mut self, ttl: Duration) -> Self {
        self.readiness_cache_ttl = ttl;
        self
    }

    /// Sets [`readiness_timeout`](Self::readiness_timeout).
    pub fn with_readiness_timeout(mut self, timeout: Duration) -> Self {
        self.readiness_timeout = timeout;
        self
    }
}

/// Shortest admin token accepted: a guessable token is worse than none.
const MIN_TOKEN_LEN: usize = 16;

impl AdminSettings {
    /// The rules beyond each field's own (durations at most a year).
    fn rules(&self, problems: &mut boost_config::Problems) {
        if let Some(token) = &self.token {
            let len = token.expose().trim().len();
            if len < MIN_TOKEN_LEN {
                problems.add(
                    "token",
                    format!(
                        "is {len} characters long: use at least {MIN_TOKEN_LEN} random characters \
                         (e.g. `openssl rand -hex 32`), or remove it to disable state-changing endpoints"
                    ),
                );
            }
        }
        if self.request_timeout.is_zero() {
            problems.add(
                "request_timeout",
                "must be more than 0 (every admin request would fail); the default is 30s",
            );
        }
        if self.max_connections == 0 {
            problems.add(
                "max_connections",
                "must be at least 1 (every connection would be refused); the default is 64",
            );
        }
        if self.probe_connections > 1024 {
            problems.add(
                "probe_connections",
                "must be at most 1024 (a few are enough for probes); the default is 4",
            );
        }
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        for (key, value, min, max, default) in [
            ("idle_timeout", self.idle_timeout, s(1), s(3600), "60s"),
            (
                "header_read_timeout",
                self.header_read_timeout,
                ms(100),
                s(600),
                "10s",
            ),
            ("body_timeout", self.body_timeout, ms(100), s(600), "5s"),
        ] {
            if value < min || value > max {
                problems.add(
                    key,
                    format!("{value:?} is outside {min:?}..={max:?}; the default is {default}"),
                );
            }
        }
    }
}

impl LifecycleSettings {
    /// The rules beyond each field's own (durations at most a year).
    fn rules(&self, problems: &mut boost_config::Problems) {
        if self.readiness_timeout.is_zero() {
            problems.add(
                "readiness_timeout",
                "must be more than 0 (every check would time out); the default is 500ms",
            );
        }
        if self.shutdown_timeout.is_zero() {
            problems.add(
                "shutdown_timeout",
                "must be more than 0 (in-flight work would be aborted at once); the default is 20s",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use boost_config::{Problems, Validate};

    use super::*;

    #[test]
    fn defaults_are_loopback_without_token_and_fit_kubernetes_grace_period() {
        let admin = AdminSettings::default();
        assert!(admin.listen.ip().is_loopback());
        assert_eq!(admin.listen.port(), 8081);
        assert!(admin.token.is_none());
        let lc = LifecycleSettings::default();
        assert!(lc.drain_delay + lc.shutdown_timeout < Duration::from_secs(30));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err =
            toml::from_str::<AdminSettings>("listen = \"127.0.0.1:1\"\ntokn = \"x\"").unwrap_err();
        assert!(err.to_string().contains("tokn"), "{err}");
        assert!(toml::from_str::<LifecycleSettings>("drain = \"1s\"").is_err());
    }

    #[test]
    fn short_token_is_a_problem_that_says_how_long_it_must_be() {
        let mut problems = Problems::new();
        AdminSettings::default()
            .with_token("short")
            .validate(&mut problems);
        let (key, message) = problems.iter().next().unwrap();
        assert_eq!(key, "token");
        assert!(message.contains("at least 16"), "{message}");
        assert!(
            !message.contains("short"),
            "the token itself must not be echoed"
        );
    }

    #[test]
    fn zero_timeouts_are_problems() {
        let mut problems = Problems::new();
        LifecycleSettings::default()
            .with_readiness_timeout(Duration::ZERO)
            .with_shutdown_timeout(Duration::ZERO)
            .validate(&mut problems);
        assert_eq!(
            problems.keys().collect::<Vec<_>>(),
            ["readiness_timeout", "shutdown_timeout"]
        );
        let mut problems = Problems::new();
        AdminSettings::default()
            .with_request_timeout(Duration::ZERO)
            .validate(&mut problems);
        assert_eq!(problems.keys().collect::<Vec<_>>(), ["request_timeout"]);
    }

    #[test]
    fn connection_bounds_out_of_range_are_problems_named_by_key() {
        let mut problems = Problems::new();
        AdminSettings::default()
            .with_max_connections(0, 5000)
            .with_connection_timeouts(Duration::ZERO, Duration::from_secs(86_400), Duration::MAX)
            .validate(&mut problems);
        assert_eq!(
            problems.keys().collect::<Vec<_>>(),
            [
                "body_timeout", // over a year: its Duration's own rule, first
                "max_connections",
                "probe_connections",
                "idle_timeout",
                "header_read_timeout",
                "body_timeout", // and outside its range
            ]
        );
        let mut problems = Problems::new();
        AdminSettings::default().validate(&mut problems);
        assert_eq!(problems.keys().count(), 0);
    }

    #[test]
    fn settings_serialise_without_the_token() {
        let admin = AdminSettings::default().with_token("0123456789abcdef-secret");
        let text = toml::to_string(&admin).unwrap();
        assert!(!text.contains("0123456789abcdef-secret"), "{text}");
        assert!(text.contains("[REDACTED]"), "{text}");
    }
}
