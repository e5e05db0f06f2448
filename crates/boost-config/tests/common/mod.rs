//! Shared fixtures: a realistic settings type and a temporary config directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use boost_config::{ByteSize, Loader, Problems, Secret, ServiceIdentity, Validate};
use serde::{Deserialize, Serialize};
use tempfile::TempDir;
use url::Url;

/// Settings shaped like a real service's.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub service: ServiceIdentity,
    pub grpc: Grpc,
    pub admin: Admin,
    pub db: Db,
    pub profiles: Profiles,
    /// A section without `deny_unknown_fields`: unknown keys here are found
    /// through serde's "ignored" path instead.
    pub loose: Loose,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Grpc {
    pub listen: SocketAddr,
    pub max_message_size: ByteSize,
    pub reflection: bool,
}

impl Default for Grpc {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 50051)),
            max_message_size: ByteSize::mib(4),
            reflection: true,
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Admin {
    pub token: Option<Secret<String>>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Db {
    pub password: Secret<String>,
    pub pin: Secret<u32>,
    pub pool_size: u32,
}

impl Default for Db {
    fn default() -> Self {
        Self {
            password: Secret::new(String::new()),
            pin: Secret::new(0),
            pool_size: 8,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profiles {
    pub endpoints: Vec<Url>,
    #[serde(with = "boost_config::duration")]
    pub timeout: Duration,
    pub retries: u8,
    pub tags: Vec<String>,
}

impl Default for Profiles {
    fn default() -> Self {
        Self {
            endpoints: vec![Url::parse("http://127.0.0.1:50052").unwrap()],
            timeout: Duration::from_millis(300),
            retries: 2,
            tags: Vec::new(),
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Loose {
    pub level: String,
}

impl Validate for Settings {
    fn validate(&self, problems: &mut Problems) {
        problems.check("service", &self.service);
        if self.grpc.listen.port() == 0 {
            problems.add("grpc.listen", "port 0 is not allowed: pick a fixed port");
        }
        if !(1..=100).contains(&self.db.pool_size) {
            problems.add("db.pool_size", "must be between 1 and 100");
        }
        if self.profiles.endpoints.is_empty() {
            problems.add("profiles.endpoints", "needs at least one endpoint");
        }
        if self.profiles.timeout > Duration::from_secs(60) {
            problems.add("profiles.timeout", "must be at most 60s");
        }
    }
}

/// A temporary config directory.
pub struct Fixture {
    pub dir: TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Writes `name` (e.g. `default.toml`) into the config directory.
    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    /// The path of `name` in the config directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A loader for `hello-service` reading this directory and no process
    /// environment variables.
    pub fn loader(&self) -> Loader {
        Loader::new("hello-service")
            .dir(self.dir.path())
            .env_vars(Vec::<(String, String)>::new())
    }

    /// Like [`loader`](Self::loader), with these environment variables.
    pub fn loader_with_env(&self, vars: &[(&str, &str)]) -> Loader {
        Loader::new("hello-service")
            .dir(self.dir.path())
            .env_vars(vars.iter().map(|(k, v)| (*k, *v)))
    }
}

/// Loads `Settings` and panics with the error's Display on failure.
pub fn load(loader: &Loader) -> boost_config::Loaded<Settings> {
    match loader.load::<Settings>() {
        Ok(loaded) => loaded,
        Err(error) => panic!("expected the configuration to load, got:\n{error}"),
    }
}

/// Loads `Settings` expecting an error.
pub fn load_err(loader: &Loader) -> boost_config::ConfigError {
    match loader.load::<Settings>() {
        Ok(loaded) => panic!("expected an error, got:\n{}", loaded.explain()),
        Err(error) => error,
    }
}
