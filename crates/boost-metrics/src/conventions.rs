//! Metric names, label keys and buckets that dashboards and alerts rely on.
//!
//! These follow the OpenTelemetry semantic conventions, spelled the Prometheus
//! way (dots become underscores, units are suffixes, durations are seconds).
//! They are a contract: renaming one breaks users' dashboards, so a change needs
//! a CHANGELOG entry that says how to migrate.

use metrics::Unit;

use crate::MetricDef;

/// Histogram: server-side duration of one RPC, seconds.
/// Labels: [`RPC_SYSTEM_NAME`], [`RPC_METHOD`], [`RPC_STATUS_CODE`].
pub const RPC_SERVER_CALL_DURATION: &str = "rpc_server_call_duration_seconds";
/// Gauge: server-side RPCs currently being handled. Labels: [`RPC_SYSTEM_NAME`], [`RPC_METHOD`].
pub const RPC_SERVER_IN_FLIGHT: &str = "rpc_server_in_flight_calls";
/// Gauge: calls a server admits at once before it sheds, its concurrency
/// limit — fixed (`grpc.server.concurrency_limit`) or adaptive
/// (`grpc.server.adaptive_limit`).
pub const RPC_SERVER_CONCURRENCY_LIMIT: &str = "rpc_server_concurrency_limit";
/// Counter: calls a server refused at once with `RESOURCE_EXHAUSTED` (HTTP
/// `429`) because its concurrency limit was reached (load shedding).
pub const RPC_SERVER_SHED_TOTAL: &str = "rpc_server_shed_total";
/// Histogram: client-side duration of one logical RPC (after retries), seconds.
/// Labels: [`RPC_SYSTEM_NAME`], [`RPC_METHOD`], [`RPC_STATUS_CODE`], [`CLIENT`].
pub const RPC_CLIENT_CALL_DURATION: &str = "rpc_client_call_duration_seconds";
/// Counter: attempts a client sent to one endpoint, retries included, by how
/// each ended. Labels: [`CLIENT`], [`RPC_METHOD`], [`OUTCOME`] (the gRPC status
/// code name, e.g. `OK`, `UNAVAILABLE`), [`ENDPOINT`].
pub const RPC_CLIENT_ATTEMPTS_TOTAL: &str = "rpc_client_attempts_total";
/// Counter: retries a client sent (attempts after the first).
/// Labels: [`CLIENT`], [`RPC_METHOD`].
pub const RPC_CLIENT_RETRIES_TOTAL: &str = "rpc_client_retries_total";
/// Counter: retries a client wanted but did not send because its retry budget
/// was empty. Labels: [`CLIENT`], [`RPC_METHOD`].
pub const RPC_CLIENT_RETRY_BUDGET_EXHAUSTED_TOTAL: &str = "rpc_client_retry_budget_exhausted_total";
/// Counter: endpoints a client ejected by outlier detection.
/// Labels: [`CLIENT`], [`ENDPOINT`], [`REASON`] (`consecutive_failures`,
/// `success_rate`, `probe_failed`).
pub const RPC_CLIENT_EJECTIONS_TOTAL: &str = "rpc_client_ejections_total";
/// Gauge: a client's endpoints, by state.
/// Labels: [`CLIENT`], [`STATE`] (`ready`, `ejected`, `reconnecting`).
pub const RPC_CLIENT_ENDPOINTS: &str = "rpc_client_endpoints";
/// Counter: calls a client rejected locally (never sent) because its
/// upstream refused most recent calls (client-side throttling).
/// Labels: [`CLIENT`].
pub const RPC_CLIENT_THROTTLED_TOTAL: &str = "rpc_client_throttled_total";
/// Gauge: the probability, a ratio from 0 to 1, that a client's next call
/// is rejected locally by client-side throttling. Labels: [`CLIENT`].
pub const RPC_CLIENT_THROTTLE_RATIO: &str = "rpc_client_throttle_ratio";

/// Histogram: server-side duration of one HTTP request, seconds.
/// Labels: [`HTTP_REQUEST_METHOD`], [`HTTP_ROUTE`], [`HTTP_RESPONSE_STATUS_CODE`].
pub const HTTP_SERVER_REQUEST_DURATION: &str = "http_server_request_duration_seconds";
/// Histogram: client-side duration of one logical HTTP request (retries
/// included), seconds. Labels: [`CLIENT`], [`HTTP_REQUEST_METHOD`], and
/// [`HTTP_RESPONSE_STATUS_CODE`] when an answer came, else [`ERROR_TYPE`].
pub const HTTP_CLIENT_REQUEST_DURATION: &str = "http_client_request_duration_seconds";
/// Counter: retries an HTTP client sent (attempts after the first), and
/// retries its retry budget refused. Labels: [`CLIENT`], [`OUTCOME`]
/// (`sent`, `budget_exhausted`).
pub const HTTP_CLIENT_RETRIES_TOTAL: &str = "http_client_retries_total";
/// Counter: base URLs an HTTP client took out of rotation after failures.
/// Labels: [`CLIENT`], [`ENDPOINT`].
pub const HTTP_CLIENT_EJECTIONS_TOTAL: &str = "http_client_ejections_total";

/// Gauge = 1 carrying the service's identity and ownership as labels.
pub const SERVICE_INFO: &str = "service_info";

/// Counter: cache lookups. Labels: [`CACHE`], [`TIER`] (`l1`: in-process; `l2`: the shared
/// second tier, when the cache has one), [`RESULT`] (`hit`, `miss`, `stale`; `l2`: `hit`, `miss`).
pub const CACHE_REQUESTS_TOTAL: &str = "cache_requests_total";
/// Counter: loader runs. Labels: [`CACHE`], [`OUTCOME`] (`ok`, `error`, `absent`).
pub const CACHE_LOADS_TOTAL: &str = "cache_loads_total";
/// Histogram: loader duration, seconds. Labels: [`CACHE`].
pub const CACHE_LOAD_DURATION: &str = "cache_load_duration_seconds";
/// Counter: entries removed. Labels: [`CACHE`], [`CAUSE`] (`size`, `expired`, `explicit`, `replaced`).
pub const CACHE_EVICTIONS_TOTAL: &str = "cache_evictions_total";
/// Gauge: entries currently held. Labels: [`CACHE`].
pub const CACHE_ENTRIES: &str = "cache_entries";

/// Histogram: duration of one database operation (a statement, or the rows of one query read
/// to the end), seconds. Labels: [`DB_SYSTEM_NAME`] (`postgresql`), [`DB_OPERATION_NAME`]
/// (`SELECT`, `INSERT`, …, the statement's first keyword), [`OUTCOME`] (`ok`, `error`,
/// `deadline`).
pub const DB_CLIENT_OPERATION_DURATION: &str = "db_client_operation_duration_seconds";
/// Gauge: connections of the database pool by state. Labels: [`DB_SYSTEM_NAME`],
/// [`DB_CLIENT_CONNECTION_STATE`] (`used`, `idle`).
pub const DB_CLIENT_CONNECTION_COUNT: &str = "db_client_connection_count";
/// Gauge: the most connections the database pool opens (`database.max_connections`).
/// Labels: [`DB_SYSTEM_NAME`].
pub const DB_CLIENT_CONNECTION_MAX: &str = "db_client_connection_max";
/// Gauge: callers waiting for a connection of the database pool. Labels: [`DB_SYSTEM_NAME`].
pub const DB_CLIENT_CONNECTION_PENDING_REQUESTS: &str = "db_client_connection_pending_requests";
/// Histogram: how long a caller waited for a connection of the database pool, seconds,
/// timeouts included. Labels: [`DB_SYSTEM_NAME`].
pub const DB_CLIENT_CONNECTION_WAIT_TIME: &str = "db_client_connection_wait_time_seconds";
/// Counter: transactions run again by `Database::transaction` after PostgreSQL aborted them.
/// Labels: [`DB_SYSTEM_NAME`], [`REASON`] (`serialization_failure`, `deadlock`).
pub const DB_CLIENT_TRANSACTION_RETRIES_TOTAL: &str = "db_client_transaction_retries_total";
/// Counter: pooled connections replaced by `Database::acquire` because they were found lost
/// before any statement of the caller was sent on them. Labels: [`DB_SYSTEM_NAME`],
/// [`REASON`] (`connection_lost`).
pub const DB_CLIENT_RETRIES_TOTAL: &str = "db_client_retries_total";
/// Label: the database system (OpenTelemetry `db.system.name`), e.g. `postgresql`.
pub const DB_SYSTEM_NAME: &str = "db_system_name";
/// Label: the operation (OpenTelemetry `db.operation.name`), e.g. `SELECT`.
pub const DB_OPERATION_NAME: &str = "db_operation_name";
/// Label: a pooled connection's state (OpenTelemetry `db.client.connection.state`).
pub const DB_CLIENT_CONNECTION_STATE: &str = "db_client_connection_state";

/// Gauge: a runtime switch's state now, a toggle's 0 or 1, a rollout's share
/// from 0 to 1. Labels: `flag`.
pub const FEATURE_FLAG_STATE: &str = "feature_flag_state";
/// Counter: changes asked of a runtime switch. Labels: `flag`, [`OUTCOME`]
/// (`changed`, `reverted`, `invalid`, `unavailable`).
pub const FEATURE_FLAG_CHANGES_TOTAL: &str = "feature_flag_changes_total";
/// Gauge: bytes the entries' keys and values hold (their `ByteSize`). Labels: [`CACHE`].
pub const CACHE_BYTES: &str = "cache_bytes";
/// Counter: answers served but not stored. Labels: [`CACHE`], [`REASON`] (`too_large`: over
/// the cache's `max_entry_share` of its `max_bytes`).
pub const CACHE_REJECTED_TOTAL: &str = "cache_rejected_total";
/// Histogram: duration of one command to a cache's second tier (Redis), seconds, timeouts
/// included. Labels: [`CACHE`], [`OP`] (`get`, `set`, `del`, `lease`, `wait`, `scan`).
pub const CACHE_L2_DURATION: &str = "cache_l2_duration_seconds";
/// Counter: second-tier lookups or writes that fell back to memory and the loader, or entries
/// read that could not be used. Labels: [`CACHE`], [`REASON`] (`timeout`, `error`,
/// `circuit_open`, `decode`, `schema`, `too_large`, `key_too_long`).
pub const CACHE_L2_ERRORS_TOTAL: &str = "cache_l2_errors_total";

/// Counter: label sets folded into `other` by the cardinality guard. Labels: [`METRIC`].
pub const METRICS_CARDINALITY_OVERFLOW_TOTAL: &str = "metrics_cardinality_overflow_total";
/// Counter: log lines dropped because the writer's queue was full.
pub const LOG_DROPPED_LINES_TOTAL: &str = "log_dropped_lines_total";
/// Counter: log events dropped by the per-call-site rate limit.
pub const LOG_SUPPRESSED_EVENTS_TOTAL: &str = "log_suppressed_events_total";

/// Gauge: when the certificate in use expires, Unix seconds (boost-tls).
/// Labels: `role` (who uses the certificate: the config section without
/// `.tls`, dots as `_`, then `_server` or `_client` — `grpc_server`,
/// `admin_server`, `profiles_client`; bounded by the config), `subject`.
pub const TLS_CERTIFICATE_EXPIRY: &str = "tls_certificate_expiry_timestamp_seconds";
/// Counter: re-reads of changed TLS files (boost-tls). Labels: `role` (as
/// for the expiry gauge), [`OUTCOME`]
/// (`success`, `error`).
pub const TLS_RELOAD_TOTAL: &str = "tls_reload_total";
/// Counter: TLS handshakes a kit server refused or timed out (boost-service).
/// Labels: `server`, [`REASON`] (`refused`, `timeout`).
pub const TLS_HANDSHAKE_FAILURES_TOTAL: &str = "tls_handshake_failures_total";
/// Counter: calls a `grpc.authorization` allow-list rule decided
/// (boost-service). Labels: `rule`, `caller`, [`OUTCOME`] (`allowed`, `denied`),
/// all bounded by the configuration.
pub const RPC_SERVER_AUTHORIZATION_TOTAL: &str = "rpc_server_authorization_total";
/// Counter: requests a server refused because their key was over its rate
/// limit (gRPC `RESOURCE_EXHAUSTED`, HTTP `429`). Labels: `server` (`grpc`,
/// `http`), `bucket` (`key`: the caller's own, `default`: requests without a
/// key, `overflow`: new keys while the key set was full).
pub const SERVER_RATE_LIMITED_TOTAL: &str = "server_rate_limited_total";
/// Gauge: keys a server's rate limiter tracks now (at most its `max_keys`).
/// Labels: `server`.
pub const SERVER_RATE_LIMIT_KEYS: &str = "server_rate_limit_keys";

/// Counter: CPU time (user + system) the process has used, seconds.
pub const PROCESS_CPU_SECONDS_TOTAL: &str = "process_cpu_seconds_total";
/// Gauge: resident memory size, bytes.
pub const PROCESS_RESIDENT_MEMORY_BYTES: &str = "process_resident_memory_bytes";
/// Gauge: virtual memory size, bytes.
pub const PROCESS_VIRTUAL_MEMORY_BYTES: &str = "process_virtual_memory_bytes";
/// Gauge: open file descriptors.
pub const PROCESS_OPEN_FDS: &str = "process_open_fds";
/// Gauge: the limit on open file descriptors (0 = unlimited).
pub const PROCESS_MAX_FDS: &str = "process_max_fds";
/// Gauge: when the process started, seconds since the Unix epoch.
pub const PROCESS_START_TIME_SECONDS: &str = "process_start_time_seconds";
/// Gauge: OS threads in the process.
pub const PROCESS_THREADS: &str = "process_threads";

/// Gauge: worker threads of the tokio runtime that renders `/metrics`.
pub const TOKIO_RUNTIME_WORKERS: &str = "tokio_runtime_workers";
/// Gauge: tasks alive in that runtime.
pub const TOKIO_RUNTIME_ALIVE_TASKS: &str = "tokio_runtime_alive_tasks";
/// Gauge: tasks waiting in that runtime's global (injection) queue.
pub const TOKIO_RUNTIME_GLOBAL_QUEUE_DEPTH: &str = "tokio_runtime_global_queue_depth";
/// Counter: time that runtime's workers spent busy, summed over workers, seconds.
pub const TOKIO_RUNTIME_BUSY_SECONDS_TOTAL: &str = "tokio_runtime_busy_seconds_total";

/// Label: the RPC system, e.g. `grpc`.
pub const RPC_SYSTEM_NAME: &str = "rpc_system_name";
/// Label: the full method, e.g. `hello.v1.Greeter/SayHello`.
pub const RPC_METHOD: &str = "rpc_method";
/// Label: the gRPC status code name, e.g. `OK`, `UNAVAILABLE`.
pub const RPC_STATUS_CODE: &str = "rpc_status_code";
/// Label: the configured upstream name of a client, e.g. `profiles`.
pub const CLIENT: &str = "client";
/// Label: the HTTP method (`GET`, …; methods outside RFC 9110 and PATCH are
/// [`HTTP_METHOD_OTHER`]).
pub const HTTP_REQUEST_METHOD: &str = "http_request_method";
/// Label: the matched route template (`/v1/hello/{name}`), never the raw
/// path; [`HTTP_ROUTE_UNMATCHED`] when no route matched.
pub const HTTP_ROUTE: &str = "http_route";
/// Label: the HTTP response status code, e.g. `200`.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http_response_status_code";
/// Label: why an HTTP client request got no answer (`timeout`, `connect`,
/// `body_too_large`, `transport`).
pub const ERROR_TYPE: &str = "error_type";

/// Label: `server.address` (OpenTelemetry semconv) of an HTTP client
/// request: the host of the base URL it was last sent to (configured, so
/// bounded); empty if no attempt was made.
pub const SERVER_ADDRESS: &str = "server_address";

/// Label: `server.port` (OpenTelemetry semconv) of an HTTP client request:
/// that base URL's port (the scheme's default when the URL names none).
pub const SERVER_PORT: &str = "server_port";
/// The value of [`HTTP_REQUEST_METHOD`] for a method that is not a known one
/// (OpenTelemetry's `_OTHER`), so a caller cannot mint label values.
pub const HTTP_METHOD_OTHER: &str = "_OTHER";
/// The value of [`HTTP_ROUTE`] for a request no route matched (a 404 from
/// the router's fallback): one series, whatever the paths.
pub const HTTP_ROUTE_UNMATCHED: &str = "unmatched";
/// Label: one endpoint of a client's upstream, as discovery names it (its address).
pub const ENDPOINT: &str = "endpoint";
/// Label: why an endpoint was ejected.
pub const REASON: &str = "reason";
/// Label: an endpoint state.
pub const STATE: &str = "state";
/// Label: the cache name.
pub const CACHE: &str = "cache";
/// Label: a lookup result.
pub const RESULT: &str = "result";
/// Label: a load outcome, or how an RPC attempt ended.
pub const OUTCOME: &str = "outcome";
/// Label: an eviction cause.
pub const CAUSE: &str = "cause";
/// Label: a metric name (on guard metrics).
pub const METRIC: &str = "metric";
/// Label on [`SERVICE_INFO`]: the service name.
pub const SERVICE_NAME: &str = "service_name";
/// Label on [`SERVICE_INFO`]: the running version.
pub const SERVICE_VERSION: &str = "service_version";
/// Label on [`SERVICE_INFO`]: the deployment environment (`dev`, `prod`, …).
pub const DEPLOYMENT_ENVIRONMENT: &str = "deployment_environment";
/// Label on [`SERVICE_INFO`]: the owning team (alerts route on it).
pub const TEAM: &str = "team";
/// Label on [`SERVICE_INFO`]: the runbook link alerts carry.
pub const RUNBOOK_URL: &str = "runbook_url";
/// Label on [`SERVICE_INFO`]: the criticality tier; on [`CACHE_REQUESTS_TOTAL`]: the cache
/// tier (`l1`, `l2`).
pub const TIER: &str = "tier";
/// Label: a second-tier cache command.
pub const OP: &str = "op";

/// The value of [`RPC_SYSTEM_NAME`] for gRPC.
pub const RPC_SYSTEM_GRPC: &str = "grpc";
/// The value every label takes on the series the cardinality guard folds
/// excess label sets into.
pub const OVERFLOW_LABEL_VALUE: &str = "other";

/// The [`RPC_STATUS_CODE`] values: gRPC status code names, indexed by code
/// (`GRPC_STATUS_CODE_NAMES[14] == "UNAVAILABLE"`).
pub const GRPC_STATUS_CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// Histogram buckets for durations in seconds, as recommended by the
/// OpenTelemetry semantic conventions for HTTP and RPC durations.
pub const DURATION_BUCKETS_SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Every metric above that is recorded through the `metrics` facade — by
/// boost-rpc, boost-cache, boost-tracing or this crate — with its kind, unit
/// and HELP text. [`install`](crate::install) describes them all, so each has
/// a `# HELP` line whichever crate records it. Durations are in
/// [`Unit::Seconds`]; counts are [`Unit::Count`] (which adds no name suffix);
/// only [`SERVICE_INFO`] has no unit. (The process and tokio runtime metrics
/// are written by the renderer itself, with their own HELP.)
///
/// A crate that records a metric under a name of its own adds it here, so it
/// does not end up with the placeholder HELP of an undescribed metric.
pub const METRICS: &[MetricDef] = &[
    MetricDef::histogram(
        RPC_SERVER_CALL_DURATION,
        "Duration of RPCs handled by this server, from request received to response sent.",
    )
    .with_unit(Unit::Seconds),
    MetricDef::gauge(
        RPC_SERVER_IN_FLIGHT,
        "RPCs this server is handling right now.",
    )
    .with_unit(Unit::Count),
    MetricDef::gauge(
        RPC_SERVER_CONCURRENCY_LIMIT,
        "Calls this server admits at once before refusing more with RESOURCE_EXHAUSTED; moves with latency when the limit is adaptive.",
    )
    .with_unit(Unit::Count),
    MetricDef::counter(
        RPC_SERVER_SHED_TOTAL,
        "Calls this server refused at once with RESOURCE_EXHAUSTED because its concurrency limit was reached (load shedding).",
    )
    .with_unit(Unit::Count),
    MetricDef::histogram(
        RPC_CLIENT_CALL_DURATION,
        "Duration of logical RPCs made by this client, retries included.",
    )
    .with_unit(Unit::Seconds),
    MetricDef::counter(
        RPC_CLIENT_ATTEMPTS_TOTAL,
        "RPC attempts this client sent to one endpoint, retries included, by the gRPC status each ended with (label outcome).",
    )
    .with_unit(Unit::Count),
    MetricDef::counter(
        RPC_CLIENT_RETRIES_TOTAL,
        "Retries this client sent, i.e. attempts after the first of a logical RPC.",
    )
    .with_unit(Unit::Count),
    MetricDef::counter(
        RPC_CLIENT_RETRY_BUDGET_EXHAUSTED_TOTAL,
        "Retries this client did not send because its retry budget was empty.",
    )
    .with_unit(Unit::Count),
    MetricDef::counter(
        RPC_CLIENT_EJECTIONS_TOTAL,
        "Endpoints this client took out of rotation by outlier detection, by reason (consecutive_failures, success_rate, probe_failed).",
    )
    .with_unit(Unit::Count),
    MetricDef::gauge(
        RPC_CLIENT_ENDPOINTS,
        "Endpoints this client knows, by state (ready, ejected, reconnecting).",
    )
    .with_unit(Unit::Count),
    MetricDef::counter(
        RPC_CLIENT_THROTTLED_TOTAL,
        "Calls this client rejected locally, never sent, because its upstream refused most recent calls (client-side throttling).",
    )
    .with_unit(Unit::Count),
    MetricDef::gauge(
        RPC_CLIENT_THROTTLE_RATIO,
        "Probability (0 to 1) that this client's next call is rejected locally by client-side throttling.",
    )
    .with_unit(Unit::Percent),
    MetricDef::histogram(
        HTTP_SERVER_REQUEST_DURATION,
        "Duration of HTTP requests handled by this server, from request head received to response head sent.",
    )
    .with_unit(Unit::Seconds),
    MetricDef::histogram(
        HTTP_CLIENT_REQUEST_DURATION,
        "Duration of logical HTTP requests made by this client, retries and the response body included.",
    )
    .with_unit(Unit::Seconds),
    MetricDef::counter(
        HTTP_CLIENT_RETRIES_TOTAL,
        "Retries this HTTP client sent (outcome sent) or its retry budget refused (outcome budget_exhausted).",
    )
    .with_unit(Unit::Count),
    MetricDef::counter(
        HTTP_CLIENT_EJECTIONS_TOTAL,
        "Base URLs this HTTP client took out of rotation after consecutive failures.",
    )
    .with_unit(Unit::Count),
    MetricDef::gauge(
        SERVICE_INFO,
        "Always 1; the labels say which service this is and who owns it.",
    ),
    MetricDef::counter(
        CACHE_REQUESTS_TOTAL,
        "Cache lookups, by tier (l1 in-process, l2 shared) and result (hit, miss, stale).",
    )
    .with_unit(Unit::Count),
    MetricDef::counter(
        CACHE_LOADS_TOTAL,
        "Cache loader runs, by outcome (ok, error, absent).",
    )
    .with_unit(Unit::Count),
    MetricDef::histogram(CACHE_LOAD_DURATION, "Duration of one cache loader run.")
        .with_unit(Unit::Seconds),
    MetricDef::counter(
        CACHE_EVICTIONS_TOTAL,
        "Cache entries removed, by cause (size, expired, explicit, replaced).",
    )
    .with_unit(Unit::Count),
    MetricDef::gauge(CACHE_ENTRIES, "Entries currently held in the cache.").with_unit(Unit::Count),
    MetricDef::gauge(
        CACHE_BYTES,
        "Memory the cache's keys and values hold, estimated by their ByteSize.",
    )
    .with_unit(Unit::Bytes),
    MetricDef::counter(
        CACHE_REJECTED_TOTAL,
        "Answers served but not cached, by reason (too_large: over max_entry_share of max_bytes).",
    )
    .with_unit(Unit::Count),
    MetricDef::histogram(
        CACHE_L2_DURATION,
        "Duration of one command to the cache's shared second tier (Redis), by op.",
    )
    .with_unit(Unit::Seconds),
    MetricDef::counter(
        CACHE_L2_ERRORS_TOTAL,
        "Second-tier commands that failed or entries that could not be used, by reason; the cache fell back to memory and the loader.",
    )
    .with_unit(Unit::Count),
    MetricDef::histogram(
        DB_CLIENT_OPERATION_DURATION,
        "Duration of one database operation through the kit's pool, by operation and outcome (ok, error, deadline).",
    )
    .with_unit(Unit::Seconds),
    MetricDef::gauge(
        DB_CLIENT_CONNECTION_COUNT,
        "Connections the database pool holds, by state (used, idle).",
    )
    .with_unit(Unit::Count),
    MetricDef::gauge(
        DB_CLIENT_CONNECTION_MAX,
        "The most connections the database pool opens (database.max_connections).",
    )
    .with_unit(Unit::Count),
    MetricDef::gauge(
        DB_CLIENT_CONNECTION_PENDING_REQUESTS,
        "Callers waiting for a free connection of the database pool.",
    )
    .with_unit(Unit::Count),
    MetricDef::histogram(
        DB_CLIENT_CONNECTION_WAIT_TIME,
        "How long callers waited for a connection of the database pool, timeouts included.",
    )
    .with_unit(Unit::Seconds),
    MetricDef::counter(
        DB_CLIENT_TRANSACTION_RETRIES_TOTAL,
        "Transactions run again after the database aborted them, by reason (serialization_failure, deadlock).",
    )
    .with_unit(Unit::Count),
    MetricDef::counter(
        DB_CLIENT_RETRIES_TOTAL,
        "Pooled database connections found lost before any statement was sent on them and replaced by another, by reason (connection_lost).",
    )
    .with_unit(Unit::Count),
    MetricDef::counter(
        METRICS_CARDINALITY_OVERFLOW_TOTAL,
        "Registrations of label sets beyond the per-metric cardinality limit, folded into the series labelled other.",
    )
    .with_unit(Unit::Count),
    MetricDef::counter(
        LOG_DROPPED_LINES_TOTAL,
        "Log lines dropped because the log writer's queue was full.",
    )
    .with_unit(Unit::Count),
    MetricDef::counter(
        LOG_SUPPRESSED_EVENTS_TOTAL,
        "Log events dropped by the per-call-site log rate limit.",
    )
    .with_unit(Unit::Count),
    MetricDef::gauge(
        TLS_CERTIFICATE_EXPIRY,
        "When the TLS certificate in use expires, Unix seconds; NaN for one replaced by rotation.",
    )
    .with_unit(Unit::Seconds),
    MetricDef::counter(
        TLS_RELOAD_TOTAL,
        "Re-reads of changed TLS certificate, key or CA files: success (in use) or error (refused, the old ones stay).",
    )
    .with_unit(Unit::Count),
    MetricDef::counter(
        TLS_HANDSHAKE_FAILURES_TOTAL,
        "TLS handshakes a server refused (no or a bad client certificate, not TLS) or that timed out.",
    )
    .with_unit(Unit::Count),
    MetricDef::counter(
        SERVER_RATE_LIMITED_TOTAL,
        "Requests this server refused because their key was over its rate limit, by bucket (key, default for requests without a key, overflow for new keys while the key set was full).",
    )
    .with_unit(Unit::Count),
    MetricDef::gauge(
        SERVER_RATE_LIMIT_KEYS,
        "Caller keys the rate limiter tracks now, at most its max_keys.",
    )
    .with_unit(Unit::Count),
    MetricDef::counter(
        RPC_SERVER_AUTHORIZATION_TOTAL,
        "Calls an allow-list rule of grpc.authorization decided, by rule, matching caller name and outcome.",
    )
    .with_unit(Unit::Count),
    MetricDef::gauge(
        FEATURE_FLAG_STATE,
        "State of each runtime switch now: 0 or 1 for a toggle, the included share from 0 to 1 for a rollout.",
    )
    .with_unit(Unit::Count),
    MetricDef::counter(
        FEATURE_FLAG_CHANGES_TOTAL,
        "Changes operators asked of runtime switches, and automatic reverts, by outcome.",
    )
    .with_unit(Unit::Count),
];
