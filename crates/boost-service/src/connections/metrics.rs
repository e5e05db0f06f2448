//! The connection metrics of the kit's servers.

use boost_metrics::MetricDef;

/// Counter: connections closed at once because the server's connection cap
/// was reached. Label `server` (`grpc`, `admin`).
pub(crate) const REJECTED: MetricDef = MetricDef::counter(
    "server_connections_rejected_total",
    "Connections closed at once because the server's connection cap was reached.",
);
/// Gauge: connections open now. Label `server`.
pub(crate) const ACTIVE: MetricDef =
    MetricDef::gauge("server_connections_active", "Connections open now.");
/// Counter: connections the server closed for a timeout. Labels `server`,
/// `reason` (`idle`, `header_timeout`).
pub(crate) const TIMED_OUT: MetricDef = MetricDef::counter(
    "server_connections_timed_out_total",
    "Connections closed by the server because they were idle or sent no complete request in time.",
);
/// Counter: `accept()` failures (e.g. out of file descriptors). Label `server`.
pub(crate) const ACCEPT_ERRORS: MetricDef = MetricDef::counter(
    "server_accept_errors_total",
    "accept() failures, such as running out of file descriptors; the server backs off and retries.",
);

/// Describes the connection metrics (HELP and TYPE lines).
pub(crate) fn describe() {
    boost_metrics::describe_all(&[REJECTED, ACTIVE, TIMED_OUT, ACCEPT_ERRORS]);
}
