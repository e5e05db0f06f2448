//! [`Phase`]: where a service is in its life.

use std::fmt;

/// Where a service is in its life. Phases only move forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Telemetry and the admin server are up; tasks are being started. Not ready.
    Starting,
    /// Tasks run; readiness follows the readiness checks.
    Serving,
    /// Shutdown started: readiness is false (`503`, gRPC `NOT_SERVING`) but work
    /// is still accepted for `drain_delay`, while load balancers notice.
    Draining,
    /// Tasks were asked to stop accepting work and to finish in-flight work by
    /// [`Lifecycle::deadline`](crate::Lifecycle::deadline).
    Stopping,
    /// All tasks ended; telemetry is being flushed.
    Stopped,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Starting => "starting",
            Phase::Serving => "serving",
            Phase::Draining => "draining",
            Phase::Stopping => "stopping",
            Phase::Stopped => "stopped",
        })
    }
}
