//! [`Source`]: which layer set a configuration value.

use std::fmt;
use std::path::PathBuf;

/// Which layer set a configuration value: its provenance.
///
/// Shown in [`Loaded::explain`](crate::Loaded::explain) comments and in every
/// [`Problem`](crate::Problem) of a [`ConfigError`](crate::ConfigError). A
/// source never holds the value itself, so it is safe to print even for secrets.
///
/// ```
/// use boost_config::Source;
///
/// let source = Source::Env("HELLO_SERVICE__GRPC__LISTEN".to_owned());
/// assert_eq!(source.to_string(), "env HELLO_SERVICE__GRPC__LISTEN");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// Nobody set it: the settings type's serde default.
    Default,
    /// Filled in by the [`Loader`](crate::Loader) itself: `service.name`,
    /// `service.environment` and `service.version`, when the settings type has
    /// a `[service]` section. The text says where the value came from.
    Loader(&'static str),
    /// A TOML file (`config/default.toml`, `config/prod.toml`, `config/local.toml`,
    /// or the file given with `--config`).
    File(PathBuf),
    /// An environment variable, by name.
    Env(String),
    /// A secret read from the file named by an environment variable ending in `_FILE`.
    EnvFile {
        /// The variable, e.g. `HELLO_SERVICE__DB__PASSWORD_FILE`.
        var: String,
        /// The file it named, e.g. `/run/secrets/db`.
        path: PathBuf,
    },
    /// A `--set key=value` command-line argument.
    Set,
    /// Settings built in code rather than loaded (see
    /// [`Problems::into_result`](crate::Problems::into_result)).
    Code,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::Loader(what) => write!(f, "loader ({what})"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(var) => write!(f, "env {var}"),
            Source::EnvFile { var, path } => write!(f, "env {var} (file {})", path.display()),
            Source::Set => f.write_str("--set"),
            Source::Code => f.write_str("set in code"),
        }
    }
}
