//! [`ServiceIdentity`]: who a service is and who owns it.

use serde::{Deserialize, Serialize};

/// The standard `[service]` section every service carries.
///
/// Other team-boost crates read it to label logs (`service`), metrics
/// (`service_info{service_name, team, runbook_url, …}`) and spans
/// (`service.name`, `service.namespace`, …), so alerts and dashboards can route
/// to the owning team without per-service wiring.
///
/// ```
/// use boost_config::ServiceIdentity;
///
/// let id = ServiceIdentity::new("hello-service", env!("CARGO_PKG_VERSION"));
/// assert_eq!(id.name, "hello-service");
/// assert_eq!(id.environment, "dev");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, crate::Document)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ServiceIdentity {
    /// Service name, e.g. `hello-service`, in logs, metrics and spans.
    /// Default: `unknown-service`; the [`Loader`](crate::Loader) fills in the
    /// name given to [`Loader::new`](crate::Loader::new), whose prefix
    /// (`HELLO_SERVICE__…`) the environment variables keep even when a file
    /// sets another name here ([`Loaded::service_name`](crate::Loaded::service_name)
    /// is the loader's).
    pub name: String,
    /// Version of the running binary. Default: `0.0.0`; the loader fills in the
    /// binary's Cargo version when given
    /// [`Loader::version(env!("CARGO_PKG_VERSION"))`](crate::Loader::version).
    pub version: String,
    /// Deployment environment (`dev`, `staging`, `prod`, …). Default: `dev`; the
    /// loader fills in the environment it loaded (`Loader::environment`, else
    /// `APP_ENV`, else `dev`).
    pub environment: String,
    /// Owning team, used to route alerts (`service_info{team}`) and as the
    /// span resource's `service.namespace`. Default: `unknown`.
    pub team: String,
    /// How to reach the on-call engineer (a rota name, a pager handle).
    /// Default: empty.
    pub oncall: String,
    /// Link to the runbook that on-call opens first. Default: empty.
    pub runbook_url: String,
    /// Criticality tier (`tier-1` … `tier-3`, or the organisation's own words).
    /// Default: `unknown`.
    pub tier: String,
}

impl ServiceIdentity {
    /// An identity with the given name and version, environment `dev`, team and
    /// tier `unknown`, and no on-call contact or runbook URL.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            ..Self::default()
        }
    }

    /// The environment-variable prefix of this name: upper-cased with `-`
    /// turned into `_` (`hello-service` → `HELLO_SERVICE`). The loader reads
    /// the prefix of the name given to `Loader::new`; when a file may have
    /// changed `name`, use `env_prefix(loaded.service_name())`.
    pub fn env_prefix(&self) -> String {
        env_prefix(&self.name)
    }
}

/// The environment-variable prefix for a service name: upper-cased, `-` → `_`.
///
/// ```
/// assert_eq!(boost_config::env_prefix("hello-service"), "HELLO_SERVICE");
/// ```
pub fn env_prefix(service_name: &str) -> String {
    service_name
        .chars()
        .map(|c| match c {
            '-' | '.' | ' ' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect()
}

impl Default for ServiceIdentity {
    fn default() -> Self {
        Self {
            name: "unknown-service".to_owned(),
            version: "0.0.0".to_owned(),
            environment: "dev".to_owned(),
            team: "unknown".to_owned(),
            oncall: String::new(),
            runbook_url: String::new(),
            tier: "unknown".to_owned(),
        }
    }
}
