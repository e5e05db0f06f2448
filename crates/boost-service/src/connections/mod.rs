//! Connection admission and lifetime for the kit's servers (gRPC and admin).
//!
//! Every accepted TCP connection holds one permit of a per-server cap; past the
//! cap a new connection is accepted and closed at once (counted in
//! `server_connections_rejected_total{server}`, logged at most every 10 s),
//! so clients see a fast failure instead of hanging in the listen backlog and
//! the process keeps file descriptors for the connections it serves. The admin
//! server keeps a few permits beyond its cap that only serve `/health/*`
//! (Envoy's overload manager reserves connections for health checks the
//! same way), so probes answer while the cap is full.
//!
//! A connection is closed when it has sent no complete request within
//! `header_read_timeout` of being accepted (slowloris; nginx's
//! `client_header_timeout`), or when it has had no request in flight for
//! `idle_timeout` (gRPC's `MAX_CONNECTION_IDLE`, nginx's `keepalive_timeout`).
//! `accept()` failing for lack of file descriptors backs off (5 ms doubling to
//! 1 s, as Go's `net/http`) and the server keeps serving. At start each server
//! raises the soft open-files limit to the hard one (as Go's runtime does) and
//! warns when its cap does not fit in it.

mod accept;
mod activity;
mod fd_limit;
mod metrics;
mod stream;

pub(crate) use accept::{Acceptor, Admitted, Quiet};
pub(crate) use activity::{Activity, ActivityLayer, GuardedBody, Registry};
pub(crate) use fd_limit::fit;
pub(crate) use metrics::describe;
pub(crate) use stream::TrackedStream;

use std::time::Duration;

/// The bounds of one server's connections.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConnectionLimits {
    /// The `server` label of the metrics and the name in logs: `grpc`, `admin`.
    pub(crate) server: &'static str,
    /// Connections served at once.
    pub(crate) max_connections: usize,
    /// Connections beyond `max_connections` that only serve health probes (admin).
    pub(crate) probe_connections: usize,
    /// A connection with no request in flight for this long is closed.
    pub(crate) idle_timeout: Duration,
    /// A connection that has not sent its first complete request within this is closed.
    pub(crate) header_read_timeout: Duration,
    /// HTTP/1 (admin): every request head, not only the first, must complete
    /// within `header_read_timeout` of its first byte. (For HTTP/2, bytes with no
    /// call in flight are often pings; there only the first request is timed.)
    pub(crate) http1: bool,
}
