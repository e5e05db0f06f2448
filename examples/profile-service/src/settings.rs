//! Everything profile-service can be configured with, and how it is loaded.
//!
//! `config/default.toml` lists every key with its default and a comment; a
//! test keeps it equal to [`Settings::default`], which is what the binary uses
//! when no file is there.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use boost::prelude::*;
use serde::{Deserialize, Serialize};

/// The service's name and environment prefix (`PROFILE_SERVICE__…`).
pub const SERVICE_NAME: &str = "profile-service";

/// profile-service's configuration, one section per concern.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Settings {
    /// Who the service is and who owns it. Default: name `profile-service`,
    /// the binary's version, environment `dev`, team and tier `unknown`, no
    /// on-call contact or runbook URL.
    pub service: ServiceIdentity,
    /// The gRPC server (`grpc.listen`, default `127.0.0.1:50052`).
    pub grpc: GrpcSettings,
    /// The admin HTTP server (`admin.listen`, default `127.0.0.1:8082`) and the
    /// token for its state-changing endpoints (default: unset, so they are off).
    pub admin: AdminSettings,
    /// The profile table: name → language (ISO 639-1 code). Default: alice en,
    /// bob fr, carmen es, dieter de, giulia it, joao pt, noor nl.
    pub profiles: BTreeMap<String, String>,
    /// Graceful shutdown timings and readiness checks.
    pub lifecycle: LifecycleSettings,
    /// Logs and traces (JSON lines, OTLP export).
    pub tracing: TracingSettings,
    /// Prometheus metrics on the admin server's `/metrics`.
    pub metrics: MetricsSettings,
}

impl Default for Settings {
    fn default() -> Self {
        let profiles = [
            ("alice", "en"),
            ("bob", "fr"),
            ("carmen", "es"),
            ("dieter", "de"),
            ("giulia", "it"),
            ("joao", "pt"),
            ("noor", "nl"),
        ];
        Self {
            service: ServiceIdentity::new(SERVICE_NAME, env!("CARGO_PKG_VERSION")),
            grpc: GrpcSettings::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 50052))),
            admin: AdminSettings::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 8082))),
            profiles: profiles
                .into_iter()
                .map(|(name, language)| (name.to_owned(), language.to_owned()))
                .collect(),
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
        for (name, language) in &self.profiles {
            if language.trim().is_empty() {
                problems.add(
                    &format!("profiles.{name}"),
                    "is empty: give an ISO 639-1 language code such as \"en\"",
                );
            }
        }
    }
}

/// Loads the settings: the defaults above, then `default.toml`,
/// `$APP_ENV.toml` and `local.toml` from [`config_dir`] (each optional), then
/// `PROFILE_SERVICE__…` environment variables, then `--set key=value` arguments.
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
            "unknown argument {arg:?}; profile-service takes --config <file>, --set key=value and --print-config"
        )
        .into());
    }
    Ok(loaded)
}

/// `config/` in the working directory when there is one (a container image,
/// `cd examples/profile-service && cargo run`), else this crate's own `config/`, so
/// `cargo run -p profile-service` from anywhere in the workspace reads it too.
pub fn config_dir() -> PathBuf {
    let local = Path::new("config");
    if local.is_dir() {
        local.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
    }
}
