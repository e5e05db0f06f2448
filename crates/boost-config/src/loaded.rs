//! [`Loaded<T>`]: a loaded configuration, with where each value came from.

use std::fmt;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::explain;
use crate::loader::Loader;
use crate::source::Source;
use crate::tree::{KeyPath, Provenance};

/// A loaded, validated configuration and the provenance of every value.
///
/// Derefs to `T`; [`shared`](Self::shared) hands out an `Arc<T>` for tasks.
/// [`explain`](Self::explain) prints the effective configuration with the
/// layer that set each value, which is what `--print-config` shows:
///
/// ```
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Default, Deserialize, Serialize)]
/// # #[serde(default, deny_unknown_fields)]
/// # struct Settings { workers: u32 }
/// # impl boost_config::Validate for Settings {}
/// let config = boost_config::Loader::new("hello-service")
///     .dir("no/such/dir")
///     .env_vars([("HELLO_SERVICE__WORKERS", "4")])
///     .args(["--print-config", "--verbose"])
///     .load::<Settings>()?;
/// if config.print_config_requested() {
///     print!("{}", config.explain()); // `workers = 4  # env HELLO_SERVICE__WORKERS`
/// }
/// assert_eq!(config.workers, 4);
/// assert_eq!(config.remaining_args(), ["--verbose"]);
/// # Ok::<(), boost_config::ConfigError>(())
/// ```
pub struct Loaded<T> {
    pub(crate) value: Arc<T>,
    provenance: Arc<Provenance>,
    environment: String,
    print_config: bool,
    rest: Vec<String>,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) loader: Loader,
}

impl<T> Loaded<T> {
    pub(crate) fn new(
        value: Arc<T>,
        provenance: Arc<Provenance>,
        environment: String,
        print_config: bool,
        rest: Vec<String>,
        files: Vec<PathBuf>,
        loader: Loader,
    ) -> Self {
        Self {
            value,
            provenance,
            environment,
            print_config,
            rest,
            files,
            loader,
        }
    }

    /// The configuration.
    pub fn get(&self) -> &T {
        &self.value
    }

    /// The configuration behind an `Arc`, for handing to tasks.
    pub fn shared(&self) -> Arc<T> {
        Arc::clone(&self.value)
    }

    /// The configuration behind an `Arc`, dropping the provenance.
    pub fn into_shared(self) -> Arc<T> {
        self.value
    }

    /// The deployment environment the configuration was loaded for (`dev`, `prod`, …).
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// The service name given to [`Loader::new`].
    pub fn service_name(&self) -> &str {
        self.loader.service_name()
    }

    /// The layer that set the leaf `key` (dotted, e.g. `grpc.listen`), or
    /// [`Source::Default`] when no layer did.
    pub fn source_of(&self, key: &str) -> Source {
        let path: KeyPath = key.split('.').map(str::to_owned).collect();
        self.provenance
            .exact(&path)
            .cloned()
            .unwrap_or(Source::Default)
    }

    /// Whether `--print-config` was among the arguments: the service should
    /// print [`explain`](Self::explain) to stdout and exit.
    pub fn print_config_requested(&self) -> bool {
        self.print_config
    }

    /// The arguments the loader did not take, in order, for the service's own parsing.
    pub fn remaining_args(&self) -> &[String] {
        &self.rest
    }

    /// The files of layers 2–4 that were looked for (whether or not they
    /// existed), in precedence order. Hot reload watches these.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

impl<T: Serialize> Loaded<T> {
    /// The effective configuration as TOML, each value followed by a comment
    /// naming the layer that set it (`# file config/default.toml`,
    /// `# env HELLO_SERVICE__GRPC__LISTEN`, `# --set`, `# default`).
    ///
    /// Secrets are masked: a [`Secret`](crate::Secret) serialises as
    /// `"[REDACTED]"`, an [`Endpoint`](crate::Endpoint) URL with credentials
    /// as `"https://***@host"`, and values read from `_FILE` variables are
    /// masked whatever their type.
    pub fn explain(&self) -> String {
        let header = format!(
            "# Effective configuration of {} (environment: {}).\n\
             # Each value is followed by the layer that set it; secrets show as \"{}\".\n",
            self.service_name(),
            self.environment,
            crate::MASK,
        );
        match toml::Table::try_from(&*self.value) {
            Ok(table) => explain::render(&header, &table, &self.provenance),
            Err(error) => format!("{header}# cannot render the configuration as TOML: {error}\n"),
        }
    }
}

impl<T> Deref for Loaded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> Clone for Loaded<T> {
    fn clone(&self) -> Self {
        Self {
            value: Arc::clone(&self.value),
            provenance: Arc::clone(&self.provenance),
            environment: self.environment.clone(),
            print_config: self.print_config,
            rest: self.rest.clone(),
            files: self.files.clone(),
            loader: self.loader.clone(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Loaded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loaded")
            .field("service", &self.service_name())
            .field("environment", &self.environment)
            .field("value", &self.value)
            .finish_non_exhaustive()
    }
}
