//! Loads a small but realistic service configuration from
//! `crates/boost-config/examples/config/` and prints the effective
//! configuration with the layer that set each value.
//!
//! ```text
//! cargo run -p boost-config --example explain
//! APP_ENV=prod cargo run -p boost-config --example explain
//! HELLO_SERVICE__GRPC__LISTEN=0.0.0.0:6000 cargo run -p boost-config --example explain -- \
//!     --set profiles.timeout=1s
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use boost_config::{Loader, Problems, Secret, ServiceIdentity, Validate};
use serde::{Deserialize, Serialize};
use url::Url;

/// Everything hello-service can be configured with.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    /// Who the service is and who owns it.
    service: ServiceIdentity,
    /// The gRPC server.
    grpc: Grpc,
    /// The admin HTTP server.
    admin: Admin,
    /// The upstream profile-service.
    profiles: Profiles,
}

/// The gRPC server.
#[derive(Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct Grpc {
    /// Address the gRPC server listens on. Default: `127.0.0.1:50051`.
    listen: SocketAddr,
}

impl Default for Grpc {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 50051)),
        }
    }
}

/// The admin HTTP server.
#[derive(Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct Admin {
    /// Address the admin server listens on. Default: `127.0.0.1:8081`.
    listen: SocketAddr,
    /// Bearer token for state-changing endpoints; unset turns them off. Default: unset.
    token: Option<Secret<String>>,
}

impl Default for Admin {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8081)),
            token: None,
        }
    }
}

/// The upstream profile-service.
#[derive(Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct Profiles {
    /// Endpoints of profile-service. Default: `["http://127.0.0.1:50052"]`.
    endpoints: Vec<Url>,
    /// Total time per call, retries included. Default: `300ms`.
    #[serde(with = "boost_config::duration")]
    timeout: Duration,
}

impl Default for Profiles {
    fn default() -> Self {
        Self {
            endpoints: Url::parse("http://127.0.0.1:50052").into_iter().collect(),
            timeout: Duration::from_millis(300),
        }
    }
}

impl Validate for Settings {
    fn validate(&self, problems: &mut Problems) {
        problems.check("service", &self.service);
        if self.profiles.endpoints.is_empty() {
            problems.add("profiles.endpoints", "needs at least one endpoint");
        }
        if self.profiles.timeout.is_zero() {
            problems.add("profiles.timeout", "must be longer than 0s");
        }
    }
}

fn main() -> ExitCode {
    let loaded = Loader::new("hello-service")
        .dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/config"))
        .version(env!("CARGO_PKG_VERSION"))
        .args_from_env()
        .load::<Settings>();
    match loaded {
        Ok(config) => {
            print!("{}", config.explain());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
