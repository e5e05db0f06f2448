//! `grpc.health.v1` following the service's readiness.
//!
//! The overall status (service name `""`) and the status of every service
//! named in the reflection descriptor sets are:
//!
//! - `NOT_SERVING` while the service starts;
//! - `SERVING` while the service is ready — it is serving and its readiness
//!   checks pass (re-evaluated every [`RECHECK`], and at every readiness change);
//! - `NOT_SERVING` from the moment shutdown starts, while in-flight and
//!   drain-delay calls are still served, so load balancers and Kubernetes'
//!   gRPC probes stop sending new work;
//! - removed once the server stops accepting, which ends open `Watch` streams
//!   so that their connections can close and the drain can finish.

use std::time::Duration;

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::Lifecycle;

/// How often readiness checks are re-run while serving (their results are
/// cached for `lifecycle.readiness_cache_ttl`).
pub const RECHECK: Duration = Duration::from_secs(2);

/// Keeps the health statuses of `names` (plus `""`) in step with `lifecycle`.
pub(crate) async fn follow_readiness(
    mut reporter: HealthReporter,
    mut names: Vec<String>,
    lifecycle: Lifecycle,
) {
    names.push(String::new());
    set_all(&reporter, &names, ServingStatus::NotServing).await;
    let mut ready = lifecycle.watch_ready();
    while !lifecycle.is_shutting_down() {
        let serving = if *ready.borrow_and_update() {
            // A readiness change (shutdown!) wins over checks still running.
            tokio::select! {
                report = lifecycle.check_readiness() => report.is_ready() && *ready.borrow(),
                changed = ready.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    continue;
                }
            }
        } else {
            false
        };
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        set_all(&reporter, &names, status).await;
        tokio::select! {
            changed = ready.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            () = tokio::time::sleep(RECHECK) => {}
        }
    }
    set_all(&reporter, &names, ServingStatus::NotServing).await;
    tracing::debug!("gRPC health: NOT_SERVING (shutdown started)");
    lifecycle.stop_accepting().await;
    for name in &names {
        reporter.clear_service_status(name).await;
    }
}

async fn set_all(reporter: &HealthReporter, names: &[String], status: ServingStatus) {
    for name in names {
        reporter.set_service_status(name, status).await;
    }
}
