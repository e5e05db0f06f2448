//! Everything hello-service can be configured with, and how it is loaded.
//!
//! `config/default.toml` lists every key with its default and a comment; a
//! test keeps it equal to [`Settings::default`], which is what the binary uses
//! when no file is there (so `cargo run -p hello-service` works anywhere).

use std::time::Duration;

use boost::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The service's name: its `[service] name`, log `service` field, metric
/// `service_name` label and environment prefix (`HELLO_SERVICE__…`).
pub const SERVICE_NAME: &str = "hello-service";

/// The gRPC method hello-service calls upstream.
pub const GET_PROFILE: &str = "hello.v1.Profiles/GetProfile";

/// hello-service's configuration, one section per concern.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Settings {
    /// Who the service is and who owns it: `team`, `runbook_url`, `tier`, …
    /// label `service_info` and route alerts. Default: name `hello-service`,
    /// the binary's version, environment `dev`, team and tier `unknown`, no
    /// on-call contact or runbook URL.
    pub service: ServiceIdentity,
    /// The gRPC server (`grpc.listen`, default `127.0.0.1:50051`).
    pub grpc: GrpcSettings,
    /// The admin HTTP server (`admin.listen`, default `127.0.0.1:8081`) and the
    /// token for its state-changing endpoints (default: unset, so they are off).
    pub admin: AdminSettings,
    /// The upstream profile-service client: `endpoints` (default
    /// `["http://127.0.0.1:50052"]`), `timeout` per call, retries included
    /// (default `300ms`), retries, ejection, balancing.
    pub profiles: ClientSettings,
    /// The cache of profile languages in front of the upstream (`name =
    /// "profiles"`, 5 min TTL, unknown names remembered for 30 s).
    pub profile_cache: CacheSettings,
    /// The greeting itself.
    pub greeting: GreetingSettings,
    /// Graceful shutdown timings and readiness checks.
    pub lifecycle: LifecycleSettings,
    /// Logs and traces (JSON lines, OTLP export).
    pub tracing: TracingSettings,
    /// Prometheus metrics on the admin server's `/metrics`.
    pub metrics: MetricsSettings,
}

/// How SayHello treats its deadline (`[greeting]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct GreetingSettings {
    /// Time kept back from the caller's deadline to answer in. When less than
    /// this is left, the profile lookup is skipped (or cut short) and the
    /// caller gets an English greeting rather than `DEADLINE_EXCEEDED`.
    /// Default `20ms`.
    #[serde(with = "boost::config::duration")]
    pub deadline_reserve: Duration,
}

impl Default for GreetingSettings {
    fn default() -> Self {
        Self {
            deadline_reserve: Duration::from_millis(20),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        let mut profiles = ClientSettings::with_endpoints(["http://127.0.0.1:50052"]);
        profiles.retry.idempotent_methods = vec![GET_PROFILE.to_owned()];
        let mut profile_cache = CacheSettings::new("profiles");
        profile_cache.ttl = Some(Duration::from_secs(300));
        profile_cache.negative_ttl = Some(Duration::from_secs(30));
        Self {
            service: ServiceIdentity::new(SERVICE_NAME, env!("CARGO_PKG_VERSION")),
            grpc: GrpcSettings::default(),
            admin: AdminSettings::default(),
            profiles,
            profile_cache,
            greeting: GreetingSettings::default(),
            lifecycle: LifecycleSettings::default(),
            tracing: TracingSettings::default(),
            metrics: MetricsSettings::default(),
        }
    }
}

impl Validate for Settings {
    fn validate(&self, problems: &mut Problems) {
        problems.check("service", &self.service);
        problems.check("admin", &self.admin);
        problems.check("lifecycle", &self.lifecycle);
        if self.profiles.endpoints.is_empty() && self.profiles.dns.is_none() {
            problems.add(
                "profiles.endpoints",
                "is empty: list at least one profile-service URL, e.g. [\"http://127.0.0.1:50052\"]",
            );
        }
        if self.profiles.timeout.is_zero() {
            problems.add(
                "profiles.timeout",
                "must be more than 0; the default is 300ms",
            );
        }
        match self.profile_cache.validate() {
            Ok(()) => {}
            Err(boost::cache::Error::InvalidSetting { field, problem, .. }) => {
                problems.add(&format!("profile_cache.{field}"), problem);
            }
            Err(e) => problems.add("profile_cache.name", e.to_string()),
        }
    }
}

/// Loads the settings: the defaults above, then `default.toml`,
/// `$APP_ENV.toml` and `local.toml` from [`config_dir`] (each optional), then
/// `HELLO_SERVICE__…` environment variables, then `--set key=value` arguments.
/// Also takes `--config <file>` (instead of `default.toml`) and `--print-config`.
///
/// # Errors
/// A [`ConfigError`] naming every bad key and the layer that set it, or an
/// error naming a command-line argument the service does not take.
pub fn load() -> Result<Loaded<Settings>, BoxError> {
    let loaded = Loader::new(SERVICE_NAME)
        .version(env!("CARGO_PKG_VERSION"))
        .dir(config_dir())
        .args_from_env()
        .load::<Settings>()?;
    if let Some(arg) = loaded.remaining_args().first() {
        return Err(format!(
            "unknown argument {arg:?}; hello-service takes --config <file>, --set key=value and --print-config"
        )
        .into());
    }
    Ok(loaded)
}

/// `config/` in the working directory when there is one (a container image,
/// `cd examples/hello-service && cargo run`), else this crate's own `config/`, so
/// `cargo run -p hello-service` from anywhere in the workspace reads it too.
pub fn config_dir() -> PathBuf {
    let local = Path::new("config");
    if local.is_dir() {
        local.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
    }
}
