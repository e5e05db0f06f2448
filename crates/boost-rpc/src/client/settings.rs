//! [`ClientSettings`]: everything an operator can tune about one upstream.
//!
//! Every default below is the number we would pick for a typical in-cluster
//! gRPC upstream, and each field says why.

use std::time::Duration;

use boost_config::ByteSize;
use boost_tls::ClientTlsSettings;

use super::tape::TapeSettings;
use serde::{Deserialize, Serialize};

/// Settings of one upstream client (`[profiles]` in a service's config).
///
/// Build the client with [`crate::client()`]. Either [`endpoints`](Self::endpoints)
/// or [`dns`](Self::dns) must be set; everything else has a default that works.
///
/// It implements [`boost_config::Validate`]: in a service's settings struct,
/// `problems.check("profiles", &settings.profiles)` (or
/// `#[derive(boost_config::Validate)]`) refuses values that cannot work at
/// load time, each named with its key and layer (`profiles.timeout (env
/// HELLO_SERVICE__PROFILES__TIMEOUT): must be more than 0`). [`crate::client()`]
/// runs the same checks, so settings made in code fail the same way
/// ([`RpcError::Config`](crate::RpcError::Config)). It also implements
/// [`boost_config::Document`], so these field docs are the comments of a
/// generated reference config file.
///
/// ```
/// use boost_rpc::client::ClientSettings;
///
/// let settings: ClientSettings = serde_json::from_str(r#"{
///     "endpoints": ["http://127.0.0.1:50052"],
///     "timeout": "300ms",
///     "retry": { "idempotent_methods": ["hello.v1.Profiles/GetProfile"] }
/// }"#).unwrap();
/// assert_eq!(settings.retry.max_attempts, 3);
///
/// // A typo is an error, not a silently ignored knob.
/// assert!(serde_json::from_str::<ClientSettings>(r#"{ "timeot": "1s" }"#).is_err());
/// ```
///
/// The same in TOML (`[profiles]` section):
///
/// ```toml
/// [profiles]
/// endpoints = ["http://127.0.0.1:50052"]
/// timeout = "300ms"
///
/// [profiles.retry]
/// idempotent_methods = ["hello.v1.Profiles/GetProfile"]
/// ```
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = super::validate::client)]
#[non_exhaustive]
pub struct ClientSettings {
    /// Fixed upstream URLs, e.g. `"http://10.0.0.7:50052"`: `http://`
    /// (plaintext h2c) or `https://` (TLS, see [`tls`](Self::tls)) with a
    /// host and port, all of one scheme, without `user:password@`
    /// (credentials go in call metadata). Default: empty. Use
    /// [`dns`](Self::dns) instead for a name whose addresses change (a
    /// Kubernetes headless service); one of the two must be set.
    pub endpoints: Vec<String>,
    /// A DNS name re-resolved periodically; each address is one endpoint.
    /// Default: unset. Ignored when `endpoints` is non-empty.
    pub dns: Option<DnsSettings>,
    /// Total time one call may take, retries and backoff included; more than
    /// 0. Default `300ms`: an in-cluster unary call takes ~1 ms at p50 and tens of ms at
    /// p99, so 300 ms leaves room for two retries of a slow attempt while a
    /// caller serving a user-facing request (budget ~1 s) still answers in time.
    /// For one call, `CallOptions::timeout` replaces it (longer or shorter),
    /// while `tonic::Request::set_timeout` and the inbound call's deadline can
    /// only shorten it: to stay within both the caller's deadline and this
    /// budget, use `set_timeout`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Time allowed to establish a TCP connection. Default `1s`: a loopback or
    /// in-cluster connect takes well under 10 ms; anything slower than a second
    /// is a dead or overloaded host and the call should try another endpoint.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Retries (gRFC A6 semantics) and the retry budget.
    pub retry: RetrySettings,
    /// Outlier ejection of endpoints that keep failing.
    pub ejection: EjectionSettings,
    /// Power-of-two-choices load balancing over Peak-EWMA latency.
    pub balance: BalanceSettings,
    /// Client-side concurrency limit.
    pub concurrency: ConcurrencySettings,
    /// Client-side throttling of an upstream that keeps refusing calls.
    pub throttle: ThrottleSettings,
    /// Per-endpoint reconnect backoff after a failed connect.
    pub reconnect: ReconnectSettings,
    /// Largest response headers, and largest trailers, accepted from the
    /// upstream for one call (counted as HTTP/2 does: name + value + 32 bytes
    /// per entry); from 1 KiB to 16 MiB. A larger answer fails that call
    /// alone with `RESOURCE_EXHAUSTED` — the connection, the other calls on
    /// it and the endpoint's health are untouched. Default `"64 KiB"`: gRPC
    /// statuses and metadata are a few hundred bytes; 64 KiB is Envoy's
    /// `max_response_headers_kb` order of magnitude (60 KiB default) and
    /// keeps a misbehaving upstream from filling memory or log lines.
    pub max_response_metadata_size: ByteSize,
    /// TLS to the upstream: the CA bundle that verifies it (`ca_file`; unset:
    /// the system's roots), the client certificate shown to it for mTLS
    /// (`cert_file` + `key_file`), and the name its certificate must carry
    /// (`server_name`; unset: each endpoint's host, or `dns.name`).
    /// `https://` endpoints use TLS with or without these keys (system
    /// roots); with `dns`, setting any of them (`server_name` for system
    /// roots alone) is what turns TLS on. Not allowed with `http://`
    /// endpoints. Files are re-read when they change. Default: all unset.
    pub tls: ClientTlsSettings,
    /// Record and replay of this client's calls, for tests that must not
    /// depend on the upstream being up (see `docs/replay.md`): `mode`
    /// (`off`, `record`, `replay`, `replay_or_record`) and the tape `path`.
    /// Default: off, and the client has no tape layer at all.
    pub tape: TapeSettings,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            endpoints: Vec::new(),
            dns: None,
            timeout: Duration::from_millis(300),
            connect_timeout: Duration::from_secs(1),
            retry: RetrySettings::default(),
            ejection: EjectionSettings::default(),
            balance: BalanceSettings::default(),
            concurrency: ConcurrencySettings::default(),
            throttle: ThrottleSettings::default(),
            reconnect: ReconnectSettings::default(),
            max_response_metadata_size: ByteSize::kib(64),
            tls: ClientTlsSettings::default(),
            tape: TapeSettings::default(),
        }
    }
}

impl ClientSettings {
    /// Whether any key of [`tls`](Self::tls) that changes a connection is
    /// set: with `dns`, that turns TLS on.
    pub(crate) fn tls_configured(&self) -> bool {
        let tls = &self.tls;
        tls.ca_file.is_some()
            || tls.cert_file.is_some()
            || tls.key_file.is_some()
            || tls.server_name.is_some()
    }

    /// [`max_response_metadata_size`](Self::max_response_metadata_size) in bytes.
    pub fn max_response_metadata_bytes(&self) -> usize {
        usize::try_from(self.max_response_metadata_size.as_u64()).unwrap_or(usize::MAX)
    }

    /// Settings for a fixed list of endpoint URLs, everything else default.
    ///
    /// ```
    /// let settings = boost_rpc::client::ClientSettings::with_endpoints(["http://127.0.0.1:50052"]);
    /// assert_eq!(settings.timeout, std::time::Duration::from_millis(300));
    /// ```
    pub fn with_endpoints<I, S>(endpoints: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

/// A DNS name to resolve into endpoints (`[profiles.dns]`).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = super::validate::dns)]
#[non_exhaustive]
pub struct DnsSettings {
    /// The name to resolve, e.g. `profiles.default.svc.cluster.local`. Default: empty.
    pub name: String,
    /// The port every resolved address is dialled on. Default `50051`, the
    /// conventional gRPC port.
    pub port: u16,
    /// How often the name is re-resolved; more than 0. Default `5s`: Kubernetes updates a
    /// headless service's records within seconds of a pod becoming ready, and
    /// a resolve every 5 s costs nothing next to the traffic it steers.
    #[serde(with = "humantime_serde")]
    pub refresh: Duration,
}

impl Default for DnsSettings {
    fn default() -> Self {
        Self {
            name: String::new(),
            port: 50051,
            refresh: Duration::from_secs(5),
        }
    }
}

/// Retry policy and budget (`[profiles.retry]`).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = super::validate::retry)]
#[non_exhaustive]
pub struct RetrySettings {
    /// Status codes worth another attempt, by gRPC name (case-insensitive,
    /// e.g. `"UNAVAILABLE"`). Default `["UNAVAILABLE"]`: the one
    /// code gRPC defines as "transient, safe to retry with backoff". Adding
    /// `RESOURCE_EXHAUSTED` or `ABORTED` is a per-upstream decision.
    pub codes: Vec<String>,
    /// Attempts per call, the first included: at least 1 (1 means no
    /// retries). Default `3`, capped at `5` as in
    /// gRFC A6: beyond that a retry mostly adds load to a struggling upstream.
    pub max_attempts: u32,
    /// Upper bound of the first backoff. Default `10ms`: the backoff is
    /// `random(0, min(initial · multiplier^(n−1), max))`, so two retries fit
    /// comfortably in the 300 ms default timeout.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Cap on the backoff bound. Default `100ms`, a third of the default timeout.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Growth of the backoff bound per attempt: 1 or more (backoff never
    /// shrinks). Default `2.0`.
    pub multiplier: f64,
    /// Retries allowed as a fraction of calls, 0 or more (`0` leaves only
    /// `budget_min_per_sec`). Default `0.2`: a retry budget
    /// of 20% masks a 10% failure rate completely, yet a dead upstream sees at
    /// most ~1.2× the calls instead of 3× (no retry storm).
    pub budget_ratio: f64,
    /// Retries always allowed per second, whatever the call rate. Default `10`,
    /// so a client making few calls can still retry.
    pub budget_min_per_sec: u32,
    /// How long a call counts towards the budget. Default `10s` (Finagle's and
    /// tower's default; must be 1–60 s).
    #[serde(with = "humantime_serde")]
    pub budget_ttl: Duration,
    /// Methods safe to send twice, e.g. `"hello.v1.Profiles/GetProfile"`;
    /// `"hello.v1.Profiles/*"` marks a whole service. Default: none — a
    /// method is retried only when it is known to be idempotent, except an
    /// attempt that never reached the server (always safe).
    pub idempotent_methods: Vec<String>,
    /// Retry a `RESOURCE_EXHAUSTED` answer that carries
    /// `grpc-retry-pushback-ms` (0 or more), after exactly that wait, whether
    /// or not `codes` lists it. Default `true`: such a server refused the call
    /// before running it and said when to come back (a kit server's adaptive
    /// limit and rate limits do), so another attempt — to any endpoint the
    /// balancer picks — is what it asks for. Only idempotent methods, and
    /// within the retry budget, `max_attempts` and the call's deadline, like
    /// every retry. `RESOURCE_EXHAUSTED` without pushback (a quota, an
    /// overload that gave no hint) is retried only if `codes` lists it.
    pub on_pushback: bool,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            codes: vec!["UNAVAILABLE".to_owned()],
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
            multiplier: 2.0,
            budget_ratio: 0.2,
            budget_min_per_sec: 10,
            budget_ttl: Duration::from_secs(10),
            idempotent_methods: Vec::new(),
            on_pushback: true,
        }
    }
}

/// Outlier ejection (`[profiles.ejection]`), after Envoy's outlier detection.
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = super::validate::ejection)]
#[non_exhaustive]
pub struct EjectionSettings {
    /// Consecutive failed attempts that eject an endpoint. Default `5`
    /// (Envoy's `consecutive_5xx`): one bad host is out after five calls,
    /// while a 10% random failure rate almost never produces five in a row
    /// (0.1⁵ = 1 in 100 000).
    pub consecutive_failures: u32,
    /// An endpoint whose success rate over [`window`](Self::window) falls below
    /// this is ejected: a fraction from 0 to 1 (`0` turns the check off; other
    /// values are a configuration error). Default `0.8`: healthy endpoints
    /// sit above 0.99.
    pub success_rate: f64,
    /// The window the success rate is measured over. Default `10s` (Envoy's
    /// detection interval).
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Attempts needed in a window before its success rate counts. Default
    /// `20`: fewer attempts give too noisy a rate.
    pub min_requests: u32,
    /// First ejection time. Default `1s`, grown by the number of ejections
    /// (×1, ×2, ×3, …) and jittered ±20% so ejected endpoints do not return
    /// in lockstep.
    #[serde(with = "humantime_serde")]
    pub base_ejection: Duration,
    /// Longest ejection time. Default `30s` (Envoy's `max_ejection_time`
    /// default is 300 s; an in-cluster endpoint is usually back far sooner).
    #[serde(with = "humantime_serde")]
    pub max_ejection: Duration,
    /// Above this percentage of endpoints ejected, ejection is ignored
    /// ("panic mode") and all endpoints take traffic: 0 to 100. Default `50`: ejecting
    /// more than half would overload the rest.
    pub max_ejected_percent: u32,
}

impl Default for EjectionSettings {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            success_rate: 0.8,
            window: Duration::from_secs(10),
            min_requests: 20,
            base_ejection: Duration::from_secs(1),
            max_ejection: Duration::from_secs(30),
            max_ejected_percent: 50,
        }
    }
}

/// Load balancing (`[profiles.balance]`).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct BalanceSettings {
    /// Latency assumed for an endpoint before it has answered. Default `30ms`
    /// (linkerd's default): high enough that a new endpoint is not flooded
    /// before its real latency is known, low enough that it gets traffic.
    #[serde(with = "humantime_serde")]
    pub default_rtt: Duration,
    /// Time constant of the latency average. Default `10s` (Finagle's and
    /// linkerd's): a slow endpoint is avoided within one response (peak), and
    /// forgiven over ~10 s.
    #[serde(with = "humantime_serde")]
    pub decay: Duration,
}

impl Default for BalanceSettings {
    fn default() -> Self {
        Self {
            default_rtt: Duration::from_millis(30),
            decay: Duration::from_secs(10),
        }
    }
}

/// Client-side concurrency limit (`[profiles.concurrency]`).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ConcurrencySettings {
    /// Calls in flight at once; `0` turns the limit off. Default `1024`: far
    /// above what a healthy upstream needs (Little's law: 10 000 calls/s ×
    /// 10 ms = 100), so it only bites when the upstream stalls and calls pile up.
    pub limit: usize,
    /// How long a call waits for a free slot before failing with
    /// `RESOURCE_EXHAUSTED`. Default `10ms`: long enough to ride out a burst,
    /// short enough that a saturated client sheds load instead of queueing.
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
}

impl Default for ConcurrencySettings {
    fn default() -> Self {
        Self {
            limit: 1024,
            max_wait: Duration::from_millis(10),
        }
    }
}

/// Client-side throttling (`[profiles.throttle]`), the SRE book's adaptive
/// throttling: see [`throttle`](super::throttle) for the formula and what
/// counts as a refusal.
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = super::validate::throttle)]
#[non_exhaustive]
pub struct ThrottleSettings {
    /// Whether calls may be rejected locally. Default `true`: it costs one
    /// atomic read per call while the upstream is healthy, and spares a
    /// failing upstream (and this service's threads) traffic that cannot
    /// succeed.
    pub enabled: bool,
    /// `K`: how many requests one accept pays for; at least 1. Default `2`
    /// (the SRE book's): an upstream must refuse more than half of the
    /// window's requests before anything is rejected locally. Lower is more
    /// aggressive; higher lets more doomed calls through.
    pub k: f64,
    /// How far back answers count, from 1 s to 10 min. Default `10s`
    /// (go-zero's): long enough for hundreds of answers at modest traffic,
    /// short enough that a recovered upstream gets full traffic within
    /// seconds. The book's two minutes keep a recovered upstream throttled
    /// for a minute.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Below this many answers in the window nothing is rejected. Default
    /// `20`: a quiet client is not throttled by its first few failures.
    pub min_requests: u32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            k: 2.0,
            window: Duration::from_secs(10),
            min_requests: 20,
        }
    }
}

/// Reconnect backoff after a failed connect (`[profiles.reconnect]`).
///
/// The defaults are Linkerd's (its proxy's outbound connect backoff): 100 ms
/// doubling to at most 500 ms, ±10% jitter. A dead endpoint then sees about
/// two connect attempts a second (one per client), and an endpoint that
/// comes back is tried again within 0.55 s, so callers recover within a
/// second of it listening. gRPC's own numbers (`doc/connection-backoff.md`:
/// 1 s × 1.6 up to 120 s) kept a restarted upstream out for 5–7 s after it
/// was ready; set them here if an upstream must be spared reconnects for
/// longer.
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = super::validate::reconnect)]
#[non_exhaustive]
pub struct ReconnectSettings {
    /// Wait after the first failed connect. Default `100ms` (Linkerd's).
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Growth per further failure: 1 or more. Default `2.0` (Linkerd's).
    pub multiplier: f64,
    /// Longest wait, at least `initial_backoff`. Default `500ms` (Linkerd's): a
    /// returning endpoint is used again at most this long (plus jitter) after
    /// it accepts connections, at the cost of ~2 refused connects a second
    /// per client while it is down.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Random spread of each wait, as a fraction from 0 to 1: each wait is
    /// the backoff ± this share of it. Default `0.1` (±10%, Linkerd's), so
    /// clients do not reconnect in lockstep after an outage.
    pub jitter: f64,
}

impl Default for ReconnectSettings {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(100),
            multiplier: 2.0,
            max_backoff: Duration::from_millis(500),
            jitter: 0.1,
        }
    }
}
