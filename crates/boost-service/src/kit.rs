//! [`KitSettings`]: the kit's standard sections of every service's
//! configuration, owned by the kit so no service lists them.

use boost_audit::AuditSettings;
use boost_config::{Document, Problems, ServiceIdentity, Validate};
use boost_db::DatabaseSettings;
use boost_metrics::MetricsSettings;
use boost_slo::SloSettings;
use boost_switches::SwitchesSettings;
use boost_tracing::TracingSettings;
use serde::{Deserialize, Serialize};

use crate::grpc::GrpcSettings;
use crate::http::HttpSettings;
use crate::settings::{AdminSettings, LifecycleSettings};

/// The standard sections every service has, read from the same files and
/// environment variables as the service's own keys:
///
/// | section | type | what |
/// |---|---|---|
/// | `[service]` | [`ServiceIdentity`] | name, version, environment, team, runbook |
/// | `[grpc]` | [`GrpcSettings`] | listen address, per-call limits, keepalive, reflection |
/// | `[http]` | [`HttpSettings`] | HTTP listen address, request timeout, body limit, shedding |
/// | `[admin]` | [`AdminSettings`] | admin HTTP address, token, request timeout |
/// | `[lifecycle]` | [`LifecycleSettings`] | drain delay, shutdown timeout, readiness |
/// | `[tracing]` | [`TracingSettings`] | log format and filter, OTLP export |
/// | `[metrics]` | [`MetricsSettings`] | cardinality guard, process metrics, buckets |
/// | `[switches]` | [`SwitchesSettings`] | runtime switches the operator may flip, where overrides live |
/// | `[audit]` | [`AuditSettings`] | the hash-chained audit file of admin changes |
/// | `[slo]` | [`SloSettings`] | objectives the alert rules, route and runbook are generated from |
/// | `[database]` | [`DatabaseSettings`] | the PostgreSQL pool (when `url` is set), deadlines, slow-query log |
///
/// A service never names this type in its settings: [`Service`](crate::Service)
/// loads it beside the service's own [`ServiceSettings`](crate::ServiceSettings)
/// and starts everything it describes. Sections added by later kit releases
/// appear here, with defaults, and change no service's code.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Validate, Document)]
#[serde(default = "defaults_in_scope", deny_unknown_fields)]
#[validate(custom = kit_rules)]
#[non_exhaustive]
pub struct KitSettings {
    /// Who the service is and who owns it. These label every log line, span
    /// and the `service_info` metric, so alerts route to the owning team.
    /// `name`, `version` and `environment` are filled in by the binary (the
    /// environment from APP_ENV, default "dev"); set them only to override.
    pub service: ServiceIdentity,
    /// The gRPC server: where it listens, per-call limits, keepalive, HTTP/2
    /// and reflection.
    pub grpc: GrpcSettings,
    /// The HTTP server (when the service serves HTTP routes): where it
    /// listens, the request timeout and deadline header, the body limit,
    /// load shedding and connection bounds.
    pub http: HttpSettings,
    /// The admin HTTP server (/metrics, /health/live, /health/ready, /info,
    /// /config, /loglevel) and the token for its state-changing endpoints.
    pub admin: AdminSettings,
    /// Graceful shutdown timings and readiness checks.
    pub lifecycle: LifecycleSettings,
    /// Logs and traces: JSON lines, the log filter, OTLP export.
    pub tracing: TracingSettings,
    /// Prometheus metrics on the admin server's /metrics.
    pub metrics: MetricsSettings,
    /// Runtime switches: declared here, flipped by the on-call operator
    /// through `PUT /flags/{name}`, shown on `/flags`.
    pub switches: SwitchesSettings,
    /// The audit trail of every state-changing admin action (switches, log
    /// level): the log stream and a hash-chained JSON Lines file.
    pub audit: AuditSettings,
    /// Service level objectives: availability and latency, service-wide and
    /// per method, over a window. The Prometheus alert rules
    /// (`--print-alert-rules`), the Alertmanager route
    /// (`--print-alertmanager-route`) and the runbook (`GET /runbook`,
    /// `--print-runbook`) are generated from them.
    pub slo: SloSettings,
    /// The PostgreSQL database (when `url` is set): the pool, how long a
    /// caller waits for a connection, the statement timeout and the reserve
    /// taken off the caller's deadline, the slow-query log. Handlers get it
    /// from `service.database()`; `/health/ready` checks it as `database`.
    pub database: DatabaseSettings,
}

/// Rules across sections: the latency thresholds of `[slo]` must be bucket
/// bounds of the histograms as `[metrics.buckets]` has them.
fn kit_rules(kit: &KitSettings, problems: &mut Problems) {
    for (key, problem) in kit.slo.bucket_problems(&kit.metrics) {
        problems.add(&format!("slo.{key}"), problem);
    }
}

impl KitSettings {
    /// The admin server's base URL as the runbook and alerts give it:
    /// `slo.admin_url`, else `http(s)://<admin.listen>` with an unspecified
    /// address shown as `localhost`.
    pub fn admin_url(&self) -> String {
        crate::slo::admin_url(&self.admin, &self.slo)
    }

    /// The top-level keys the kit owns; a service's own settings may not use them.
    pub const SECTIONS: &'static [&'static str] = &[
        "service",
        "grpc",
        "http",
        "admin",
        "lifecycle",
        "tracing",
        "metrics",
        "switches",
        "audit",
        "slo",
        "database",
    ];

    /// Section names the kit will use in coming releases (TLS,
    /// databases, shared caches): a service's own settings may not use them
    /// either, so adding them later breaks no service.
    pub const RESERVED: &'static [&'static str] = &["tls", "backend"];
}

std::thread_local! {
    /// The service's kit defaults while its [`Config`](crate::Config) is
    /// being deserialised (see [`with_defaults`]).
    static DEFAULTS: std::cell::RefCell<Option<KitSettings>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` (a deserialisation) with `defaults` as what a section no layer
/// names is filled from. The loader leaves such sections out of the tree so
/// that serde fills them from the type's default *exactly* (secrets
/// included); for the kit's half of a `Config<S>` that default must be the
/// service's (`ServiceSettings::kit_defaults`: profile-service's ports), not
/// `KitSettings::default()`. Deserialisation is synchronous, so a
/// thread-local scoped to the call is enough.
pub(crate) fn with_defaults<R>(defaults: KitSettings, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<KitSettings>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            DEFAULTS.with(|d| *d.borrow_mut() = previous);
        }
    }
    let _restore = Restore(DEFAULTS.with(|d| d.borrow_mut().replace(defaults)));
    f()
}

fn defaults_in_scope() -> KitSettings {
    DEFAULTS.with(|d| d.borrow().clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_records_and_the_log_filter_agree_on_the_audit_target() {
        // boost-tracing lets this target through every filter; boost-audit
        // writes its events there. Neither crate depends on the other.
        assert_eq!(boost_audit::AUDIT_TARGET, boost_tracing::AUDIT_TARGET);
    }

    #[test]
    fn sections_lists_every_top_level_key() {
        let table = toml::Table::try_from(KitSettings::default()).unwrap_or_default();
        let keys: Vec<&str> = table.keys().map(String::as_str).collect();
        let mut listed = KitSettings::SECTIONS.to_vec();
        listed.sort_unstable();
        assert_eq!(keys, listed);
    }
}
