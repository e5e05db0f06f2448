//! [`ServerSettings`]: the knobs of a gRPC server, with defaults that work.

use std::time::Duration;

use boost_config::{ByteSize, Document, Problems, Validate};
use serde::{Deserialize, Serialize};

use super::load_shed::{AdaptiveLimitSettings, ceiling_rules};
use crate::rate_limit::RateLimitSettings;

/// How a gRPC server admits, bounds and keeps its calls and connections.
///
/// Every field has a default that suits a typical service; in a boost-service
/// config this is the `[grpc.server]` table:
///
/// ```toml
/// [grpc.server]
/// concurrency_limit = 256
/// request_timeout = "5s"
/// max_request_size = "1 MiB"
/// ```
///
/// [`stack`](super::stack) reads the per-call knobs; [`ServerSettings::apply`]
/// applies the connection knobs to a `tonic::transport::Server` builder.
///
/// It implements [`Validate`] (values that cannot work are refused at load
/// time, each under its key: `grpc.server.request_timeout`) and
/// [`Document`] (these field docs are the comments of a generated reference
/// config file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = server_rules)]
#[non_exhaustive]
pub struct ServerSettings {
    /// Calls handled at the same time across all connections. A call beyond
    /// it is refused at once with `RESOURCE_EXHAUSTED` (no queueing).
    /// `0` turns the limit off. With `adaptive_limit.enabled` it is the
    /// adaptive limit's ceiling (and must be more than 0). Default: `1024`.
    pub concurrency_limit: usize,
    /// A concurrency limit that follows the server's latency, under
    /// `concurrency_limit` (`[grpc.server.adaptive_limit]`): Netflix's
    /// Gradient2, off by default.
    pub adaptive_limit: AdaptiveLimitSettings,
    /// Rate limits per caller key (`[grpc.server.rate_limit]`): a caller's
    /// certificate identity or a metadata value, GCRA; a call over its key's
    /// rate gets `RESOURCE_EXHAUSTED` with `grpc-retry-pushback-ms`. Off by
    /// default.
    pub rate_limit: RateLimitSettings,
    /// Longest any call may run, even if the caller sent no `grpc-timeout` or
    /// a longer one; unset means the caller's deadline alone bounds a call.
    /// Default: unset.
    #[serde(with = "boost_config::duration")]
    pub request_timeout: Option<Duration>,
    /// Largest request body accepted (all messages of a call together,
    /// framing included); larger ones get `RESOURCE_EXHAUSTED`. `0` turns the
    /// limit off. Default: `"4 MiB"` (tonic's per-message default).
    pub max_request_size: ByteSize,
    /// Largest response message; a larger one ends the call with
    /// `OUT_OF_RANGE` instead of being sent. tonic enforces it per generated
    /// server, so give it to each one (a built router cannot be reached
    /// into): `GreeterServer::new(svc).max_encoding_message_size(settings.max_response_message_bytes())`
    /// — see [`max_response_message_bytes`](Self::max_response_message_bytes).
    /// `0` turns the limit off. Default: `"4 MiB"`.
    pub max_response_size: ByteSize,
    /// How often the server sends an HTTP/2 ping on a connection to check
    /// that the client is still there; unset disables pings. Default: unset
    /// (tonic's default; gRPC's own servers default to 2 hours).
    ///
    /// Dead clients are already found by [`tcp_keepalive`](Self::tcp_keepalive),
    /// at no cost per call. HTTP/2 pings cost on every call: with them on,
    /// hyper takes a lock and reads the clock for every frame received and
    /// keeps a timer armed per connection — 1.5–2% of a unary call on
    /// loopback. Set it when a proxy between clients and the server drops
    /// connections that carry no HTTP/2 traffic (e.g. `"60s"`). Between
    /// `1s` and `2h`.
    #[serde(with = "boost_config::duration")]
    pub keepalive_interval: Option<Duration>,
    /// How long to wait for a ping's answer before closing the connection
    /// (only used with `keepalive_interval`). Between `100ms` and `10m`.
    /// Default: `"20s"`.
    #[serde(with = "boost_config::duration")]
    pub keepalive_timeout: Duration,
    /// TCP keepalive on accepted sockets: the kernel probes an idle
    /// connection after this long and closes it if the peer is gone, which
    /// frees a dead client's connection without any per-call work; unset
    /// leaves the OS default (usually off). Between `1s` and `2h`.
    /// Default: `"60s"`.
    #[serde(with = "boost_config::duration")]
    pub tcp_keepalive: Option<Duration>,
    /// Connections older than this are closed gracefully (HTTP/2 `GOAWAY`,
    /// in-flight calls finish), so long-lived clients reconnect and spread
    /// over new server instances; unset keeps connections forever.
    /// Default: unset.
    #[serde(with = "boost_config::duration")]
    pub max_connection_age: Option<Duration>,
    /// HTTP/2 flow-control and stream knobs (`[grpc.server.http2]`); each
    /// defaults to hyper's.
    pub http2: Http2Settings,
    /// Serve `grpc.reflection.v1` (and `v1alpha`, for grpcio and older grpcurl) so tools such as `grpcurl` can list and
    /// describe the services without the `.proto` files. Default: `true`.
    pub reflection: bool,
    /// Connections served at once; a connection beyond it is closed as soon
    /// as it is accepted (clients fail fast and retry elsewhere instead of
    /// hanging), counted in `server_connections_rejected_total{server="grpc"}`
    /// and logged at most every 10 s. Keeps file descriptors for the admin
    /// server and outgoing calls: keep it well under `ulimit -n`. Envoy's
    /// listener connection limit works the same way. Default: `512`.
    pub max_connections: usize,
    /// Connections kept beyond `max_connections` for health checks: while
    /// the cap is full a new connection may still call `grpc.health.v1`
    /// (Kubernetes gRPC probes); any other call on it gets `UNAVAILABLE`, and
    /// it is closed after 2 s without a call. Envoy reserves connections for
    /// health checks the same way. At most `1024`. Default: `4`.
    pub probe_connections: usize,
    /// A connection with no call in flight for this long is closed (gRPC's
    /// `MAX_CONNECTION_IDLE`; clients reconnect when they next call), so idle
    /// connections cannot hold the connection cap. Between `1s` and `24h`.
    /// Default: `"5m"`.
    #[serde(with = "boost_config::duration")]
    pub max_connection_idle: Duration,
    /// A new connection that has not sent its first complete call (HTTP/2
    /// preface, settings and headers) within this is closed, so slow or
    /// silent clients (slowloris) cannot hold connections (nginx's
    /// `client_header_timeout`). Between `100ms` and `10m`. Default: `"10s"`.
    #[serde(with = "boost_config::duration")]
    pub header_read_timeout: Duration,
    /// A call whose request body sends nothing for this long before it ends
    /// (no HTTP/2 DATA frame) fails with `DEADLINE_EXCEEDED`, and its slot
    /// of the concurrency limit is given back (not `CANCELLED`: tonic reads
    /// that as the client's own cancel and hides it from the handler). A unary request arrives at once, so
    /// this only ever ends calls of a peer that sent headers and then went
    /// silent, which would otherwise hold their slots for as long as the
    /// connection lives (nginx's `client_body_timeout`, 60 s by default,
    /// works the same way). A bidirectional stream whose client sends
    /// nothing for longer while the server streams is ended too: raise it
    /// for such APIs. Between `1s` and `24h`. Default: `"60s"`.
    #[serde(with = "boost_config::duration")]
    pub request_body_idle_timeout: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            concurrency_limit: 1024,
            adaptive_limit: AdaptiveLimitSettings::default(),
            rate_limit: RateLimitSettings::default(),
            request_timeout: None,
            max_request_size: ByteSize::mib(4),
            max_response_size: ByteSize::mib(4),
            keepalive_interval: None,
            keepalive_timeout: Duration::from_secs(20),
            tcp_keepalive: Some(Duration::from_secs(60)),
            max_connection_age: None,
            http2: Http2Settings::default(),
            reflection: true,
            max_connections: 512,
            probe_connections: 4,
            max_connection_idle: Duration::from_secs(5 * 60),
            header_read_timeout: Duration::from_secs(10),
            request_body_idle_timeout: Duration::from_secs(60),
        }
    }
}

/// HTTP/2 knobs; the defaults are hyper's, which suit most services.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = http2_rules)]
#[non_exhaustive]
pub struct Http2Settings {
    /// Streams (calls) one connection may carry at once, advertised to
    /// clients as `SETTINGS_MAX_CONCURRENT_STREAMS`; a client opening more
    /// gets them refused (`REFUSED_STREAM`, which boost-rpc clients retry).
    /// Bounds what one connection can ask of the server, beside
    /// `concurrency_limit` for all of them. At least 1. Default: `200`
    /// (hyper's own default; nginx uses 128, Go's `net/http2` 250).
    pub max_concurrent_streams: u32,
    /// Per-stream flow-control window in bytes; unset leaves hyper's default
    /// (64 KiB - 1). Default: unset.
    pub initial_stream_window_size: Option<u32>,
    /// Per-connection flow-control window in bytes; unset leaves hyper's
    /// default. Default: unset.
    pub initial_connection_window_size: Option<u32>,
    /// Let hyper size the windows from the measured bandwidth-delay product
    /// (overrides the two windows). Default: `false`.
    pub adaptive_window: bool,
    /// Largest HTTP/2 frame payload in bytes; unset leaves hyper's default
    /// (16 KiB). Default: unset.
    pub max_frame_size: Option<u32>,
    /// Streams a client may open and reset before the server has accepted
    /// them, per connection; one more and the connection is closed with
    /// `GOAWAY` (`ENHANCE_YOUR_CALM`). This is hyper's guard against the
    /// HTTP/2 rapid-reset attack (CVE-2023-44487). At least
    /// `max_concurrent_streams`. Default: unset, meaning 10 ×
    /// `max_concurrent_streams` (2000).
    ///
    /// hyper's own default, 20, is tripped by well-behaved clients: when a
    /// server stalls (a GC pause, SIGSTOP, a CPU-starved node), its clients
    /// cancel calls on their deadlines, and once it resumes it reads all
    /// those streams (HEADERS then RST_STREAM) in one go — 100 calls in
    /// flight with a 300 ms deadline leave ~330 per second of stall. Sized
    /// from the stream limit, the guard still bounds what a peer can make
    /// the server accept beyond its concurrent streams (×10, not unbounded).
    pub max_pending_accept_reset_streams: Option<u32>,
}

/// The default stream limit per connection: hyper's own default. It must be
/// set explicitly: tonic passes an unset limit on as "none", and the server
/// would then advertise no `SETTINGS_MAX_CONCURRENT_STREAMS` at all.
const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 200;

impl Default for Http2Settings {
    fn default() -> Self {
        Self {
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            initial_stream_window_size: None,
            initial_connection_window_size: None,
            adaptive_window: false,
            max_frame_size: None,
            max_pending_accept_reset_streams: None,
        }
    }
}

/// The pending-accept reset limit per allowed concurrent stream, when it is
/// not configured.
const RESETS_PER_STREAM: u32 = 10;

impl Http2Settings {
    /// The effective rapid-reset limit:
    /// [`max_pending_accept_reset_streams`](Self::max_pending_accept_reset_streams),
    /// else 10 × `max_concurrent_streams` (2000 by default).
    ///
    /// ```
    /// let mut http2 = boost_rpc::server::Http2Settings::default();
    /// assert_eq!(http2.pending_accept_reset_streams(), 2000);
    /// http2.max_concurrent_streams = 50;
    /// assert_eq!(http2.pending_accept_reset_streams(), 500);
    /// ```
    pub fn pending_accept_reset_streams(&self) -> usize {
        let limit = self.max_pending_accept_reset_streams.unwrap_or_else(|| {
            self.max_concurrent_streams
                .max(1)
                .saturating_mul(RESETS_PER_STREAM)
        });
        usize::try_from(limit).unwrap_or(usize::MAX)
    }
}

/// A size limit in bytes; `0` (off) is `usize::MAX`.
fn limit_bytes(size: ByteSize) -> usize {
    match size.as_u64() {
        0 => usize::MAX,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    }
}

impl ServerSettings {
    /// [`max_response_size`](Self::max_response_size) for a generated
    /// server's `max_encoding_message_size` (without it, tonic sends
    /// responses of any size): `usize::MAX` when the limit is off (`0`).
    ///
    /// ```
    /// # use boost_test_proto::greeter_server::{Greeter, GreeterServer};
    /// # fn wrap<T: Greeter>(svc: T) {
    /// let settings = boost_rpc::server::ServerSettings::default();
    /// let server = GreeterServer::new(svc)
    ///     .max_decoding_message_size(settings.max_request_message_bytes())
    ///     .max_encoding_message_size(settings.max_response_message_bytes());
    /// # let _ = server;
    /// # }
    /// assert_eq!(
    ///     boost_rpc::server::ServerSettings::default().max_response_message_bytes(),
    ///     4 * 1024 * 1024
    /// );
    /// ```
    pub fn max_response_message_bytes(&self) -> usize {
        limit_bytes(self.max_response_size)
    }

    /// [`max_request_size`](Self::max_request_size) for a generated server's
    /// `max_decoding_message_size`: the stack bounds a request's whole body,
    /// but tonic also refuses any single message over 4 MiB unless told
    /// otherwise, so a larger `max_request_size` needs this too.
    pub fn max_request_message_bytes(&self) -> usize {
        limit_bytes(self.max_request_size)
    }

    /// Applies the connection knobs (keepalive, connection age, HTTP/2
    /// windows and streams, `TCP_NODELAY`) to a tonic server builder.
    ///
    /// `TCP_NODELAY` and `tcp_keepalive` only take effect when tonic binds
    /// the socket itself (`serve`); with `serve_with_incoming` set them on the
    /// `TcpIncoming` yourself (`with_nodelay`, `with_keepalive`) —
    /// boost-service does.
    ///
    /// ```
    /// use boost_rpc::server::ServerSettings;
    ///
    /// let settings = ServerSettings::default();
    /// let builder = settings.apply(tonic::transport::Server::builder());
    /// # let _ = builder;
    /// ```
    pub fn apply(&self, builder: tonic::transport::Server) -> tonic::transport::Server {
        let builder = match self.max_connection_age {
            Some(age) => builder.max_connection_age(age),
            None => builder,
        };
        builder
            .tcp_nodelay(true)
            .tcp_keepalive(self.tcp_keepalive)
            .http2_keepalive_interval(self.keepalive_interval)
            .http2_keepalive_timeout(Some(self.keepalive_timeout))
            .max_concurrent_streams(self.http2.max_concurrent_streams)
            .initial_stream_window_size(self.http2.initial_stream_window_size)
            .initial_connection_window_size(self.http2.initial_connection_window_size)
            .http2_adaptive_window(Some(self.http2.adaptive_window))
            .max_frame_size(self.http2.max_frame_size)
            .http2_max_pending_accept_reset_streams(Some(self.http2.pending_accept_reset_streams()))
    }
}

/// The rules of [`ServerSettings`] (the derive checks its `http2` section).
fn server_rules(settings: &ServerSettings, problems: &mut Problems) {
    ceiling_rules(
        &settings.adaptive_limit,
        settings.concurrency_limit,
        problems,
    );
    if settings.request_timeout == Some(Duration::ZERO) {
        problems.add(
            "request_timeout",
            "must be more than 0; leave it unset to let callers' deadlines rule",
        );
    }
    // Pings more often than a second are abuse in gRPC's eyes (servers answer
    // `GOAWAY too_many_pings`); beyond two hours TCP keepalive has long
    // found a dead peer (gRPC's own server default is 2 h).
    if let Some(interval) = settings.keepalive_interval {
        in_range(
            problems,
            "keepalive_interval",
            interval,
            Duration::from_secs(1),
            Duration::from_secs(2 * 60 * 60),
            "\"60s\" (leave it unset to turn pings off)",
        );
    }
    if let Some(idle) = settings.tcp_keepalive {
        in_range(
            problems,
            "tcp_keepalive",
            idle,
            Duration::from_secs(1),
            Duration::from_secs(2 * 60 * 60),
            "\"60s\" (leave it unset for the OS default)",
        );
    }
    if settings.max_connection_age == Some(Duration::ZERO) {
        problems.add(
            "max_connection_age",
            "must be more than 0; leave it unset to keep connections",
        );
    }
    in_range(
        problems,
        "keepalive_timeout",
        settings.keepalive_timeout,
        Duration::from_millis(100),
        Duration::from_secs(10 * 60),
        "\"20s\"",
    );
    connection_rules(settings, problems);
}

/// The rules of the connection cap and timeouts.
fn connection_rules(settings: &ServerSettings, problems: &mut Problems) {
    if settings.max_connections == 0 {
        problems.add(
            "max_connections",
            "must be at least 1 (the server would refuse every connection), e.g. 512",
        );
    }
    if settings.probe_connections > 1024 {
        problems.add(
            "probe_connections",
            "must be at most 1024 (a few are enough for probes), e.g. 4",
        );
    }
    in_range(
        problems,
        "max_connection_idle",
        settings.max_connection_idle,
        Duration::from_secs(1),
        Duration::from_secs(24 * 3600),
        "\"5m\"",
    );
    in_range(
        problems,
        "header_read_timeout",
        settings.header_read_timeout,
        Duration::from_millis(100),
        Duration::from_secs(600),
        "\"10s\"",
    );
    in_range(
        problems,
        "request_body_idle_timeout",
        settings.request_body_idle_timeout,
        Duration::from_secs(1),
        Duration::from_secs(24 * 3600),
        "\"60s\"",
    );
}

/// Adds a problem under `key` unless `min <= value <= max`.
fn in_range(
    problems: &mut Problems,
    key: &str,
    value: Duration,
    min: Duration,
    max: Duration,
    example: &str,
) {
    if value < min || value > max {
        problems.add(
            key,
            format!("{value:?} is outside {min:?}..={max:?}; use e.g. {example}"),
        );
    }
}

/// The rules of [`Http2Settings`]: HTTP/2's own limits.
fn http2_rules(http2: &Http2Settings, problems: &mut Problems) {
    const MAX_WINDOW: u32 = (1 << 31) - 1;
    if let Some(size) = http2.max_frame_size
        && !(16_384..=16_777_215).contains(&size)
    {
        problems.add(
            "max_frame_size",
            format!("{size} is outside HTTP/2's range 16384..=16777215"),
        );
    }
    for (key, window) in [
        (
            "initial_stream_window_size",
            http2.initial_stream_window_size,
        ),
        (
            "initial_connection_window_size",
            http2.initial_connection_window_size,
        ),
    ] {
        if window.is_some_and(|w| w > MAX_WINDOW) {
            problems.add(key, format!("must be at most {MAX_WINDOW} (2^31 - 1)"));
        }
    }
    if http2.max_concurrent_streams == 0 {
        problems.add(
            "max_concurrent_streams",
            format!(
                "must be at least 1 (no call could be made); the default is \
                 {DEFAULT_MAX_CONCURRENT_STREAMS}"
            ),
        );
    }
    let streams = http2.max_concurrent_streams;
    if let Some(resets) = http2.max_pending_accept_reset_streams
        && resets < streams.max(1)
    {
        problems.add(
            "max_pending_accept_reset_streams",
            format!(
                "is {resets}, below max_concurrent_streams ({streams}): clients cancelling calls \
                 on their deadlines while the server stalls would get their connections closed; \
                 use at least {streams}, or leave it unset for {}",
                streams.saturating_mul(RESETS_PER_STREAM)
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_gives_the_defaults() {
        let parsed: ServerSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed, ServerSettings::default());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = serde_json::from_str::<ServerSettings>(r#"{"concurency_limit": 3}"#).unwrap_err();
        assert!(err.to_string().contains("concurency_limit"), "{err}");
    }

    #[test]
    fn sizes_read_in_human_form() {
        let parsed: ServerSettings =
            serde_json::from_str(r#"{"max_request_size": "64 KiB"}"#).unwrap();
        assert_eq!(parsed.max_request_size, ByteSize::kib(64));
    }

    #[test]
    fn validation_names_each_bad_key() {
        let mut bad = ServerSettings {
            request_timeout: Some(Duration::ZERO),
            ..ServerSettings::default()
        };
        bad.http2.max_frame_size = Some(10);
        let mut problems = Problems::new();
        problems.check("grpc.server", &bad);
        let keys: Vec<_> = problems.keys().collect();
        // Sections first (the derive visits every field), then the type's own rules.
        assert_eq!(
            keys,
            [
                "grpc.server.http2.max_frame_size",
                "grpc.server.request_timeout"
            ]
        );
        let mut problems = Problems::new();
        ServerSettings::default().validate(&mut problems);
        assert_eq!(problems.keys().count(), 0);
    }

    #[test]
    fn connection_cap_and_timeouts_are_bounded_and_named() {
        let bad = ServerSettings {
            max_connections: 0,
            max_connection_idle: Duration::from_secs(u64::MAX / 4),
            header_read_timeout: Duration::ZERO,
            request_body_idle_timeout: Duration::from_millis(10),
            ..ServerSettings::default()
        };
        let mut problems = Problems::new();
        problems.check("grpc.server", &bad);
        let keys: Vec<_> = problems.keys().collect();
        assert_eq!(
            keys,
            [
                "grpc.server.max_connection_idle", // over a year: the Duration's own rule
                "grpc.server.max_connections",
                "grpc.server.max_connection_idle",
                "grpc.server.header_read_timeout",
                "grpc.server.request_body_idle_timeout"
            ]
        );
        let defaults = ServerSettings::default();
        assert_eq!(defaults.max_connections, 512);
        assert_eq!(defaults.max_connection_idle, Duration::from_secs(300));
        assert_eq!(defaults.header_read_timeout, Duration::from_secs(10));
        assert_eq!(defaults.request_body_idle_timeout, Duration::from_secs(60));
    }

    #[test]
    fn every_key_of_the_reference_file_says_what_it_does() {
        let text = boost_config::reference_toml(&ServerSettings::default(), "");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.starts_with('#') && !line.is_empty() {
                let above = i.checked_sub(1).map(|j| lines[j]).unwrap_or_default();
                assert!(above.starts_with("# "), "{line} has no comment:\n{text}");
            }
        }
        assert!(text.contains("# max_frame_size = (unset)"), "{text}");
    }

    #[test]
    fn the_rapid_reset_guard_is_sized_from_the_stream_limit_not_hypers_20() {
        let mut http2 = Http2Settings::default();
        assert_eq!(http2.pending_accept_reset_streams(), 2000);
        http2.max_concurrent_streams = 100;
        assert_eq!(http2.pending_accept_reset_streams(), 1000);
        http2.max_pending_accept_reset_streams = Some(5000);
        assert_eq!(http2.pending_accept_reset_streams(), 5000);

        let mut bad = ServerSettings::default();
        bad.http2.max_pending_accept_reset_streams = Some(20);
        let mut problems = Problems::new();
        problems.check("grpc.server", &bad);
        let keys: Vec<_> = problems.keys().collect();
        assert_eq!(keys, ["grpc.server.http2.max_pending_accept_reset_streams"]);
        bad.http2.max_concurrent_streams = 10;
        let mut problems = Problems::new();
        problems.check("grpc.server", &bad);
        assert_eq!(problems.keys().count(), 0, "20 ≥ 10 streams is fine");
    }

    #[test]
    fn dead_peers_are_found_by_tcp_keepalive_not_per_call_pings() {
        let defaults = ServerSettings::default();
        assert_eq!(defaults.tcp_keepalive, Some(Duration::from_secs(60)));
        assert_eq!(defaults.keepalive_interval, None);
        let parsed: ServerSettings =
            serde_json::from_str(r#"{"keepalive_interval": "60s"}"#).unwrap();
        assert_eq!(parsed.keepalive_interval, Some(Duration::from_secs(60)));
    }

    #[test]
    fn durations_read_in_human_form() {
        let parsed: ServerSettings =
            serde_json::from_str(r#"{"request_timeout": "250ms", "keepalive_timeout": "5s"}"#)
                .unwrap();
        assert_eq!(parsed.request_timeout, Some(Duration::from_millis(250)));
        assert_eq!(parsed.keepalive_timeout, Duration::from_secs(5));
    }
}
