//! Layered, typed, validated service configuration — with provenance, secrets
//! and hot reload.
//!
//! A service describes its settings as one serde type and asks the [`Loader`]
//! for it. The loader merges six layers, tells you which layer set every value,
//! rejects keys the type does not know, and reports *all* problems at once.
//!
//! # The common case
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::Duration;
//!
//! use boost_config::{Loader, Problems, Secret, ServiceIdentity, Validate};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Deserialize, Serialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct Settings {
//!     /// Who the service is and who owns it (`[service]`).
//!     service: ServiceIdentity,
//!     /// Address the gRPC server listens on. Default: `127.0.0.1:50051`.
//!     listen: SocketAddr,
//!     /// Total time per upstream call. Default: `300ms`.
//!     #[serde(with = "boost_config::duration")]
//!     timeout: Duration,
//!     /// Bearer token for the admin endpoints. Default: unset.
//!     token: Option<Secret<String>>,
//! }
//!
//! impl Default for Settings {
//!     fn default() -> Self {
//!         Self {
//!             service: ServiceIdentity::default(),
//!             listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
//!             timeout: Duration::from_millis(300),
//!             token: None,
//!         }
//!     }
//! }
//!
//! impl Validate for Settings {
//!     fn validate(&self, problems: &mut Problems) {
//!         if self.timeout.is_zero() {
//!             problems.add("timeout", "must be longer than 0s");
//!         }
//!     }
//! }
//!
//! # fn main() -> Result<(), boost_config::ConfigError> {
//! let config = Loader::new("hello-service") // env vars start with HELLO_SERVICE__
//!     .version(env!("CARGO_PKG_VERSION"))
//! #   .dir("no/such/dir").env_vars([("HELLO_SERVICE__TIMEOUT", "2s")])
//! #   .args(["--set", "listen=127.0.0.1:6000"])
//! #   /*
//!     .args_from_env() // takes --set, --config and --print-config
//! #   */
//!     .load::<Settings>()?;
//!
//! if config.print_config_requested() {
//!     print!("{}", config.explain()); // TOML, one `# <layer>` comment per value
//!     return Ok(());
//! }
//! // `config` derefs to `Settings`; `config.shared()` is an `Arc<Settings>`.
//! # assert_eq!(config.listen.port(), 6000);
//! # assert_eq!(config.timeout, Duration::from_secs(2));
//! # assert_eq!(config.service.name, "hello-service");
//! println!("listening on {}", config.listen);
//! # Ok(())
//! # }
//! ```
//!
//! # Layers
//!
//! Lowest precedence first; each layer overrides the keys it names and leaves
//! the others alone:
//!
//! | # | layer | example |
//! |---|-------|---------|
//! | 1 | the type's `T::default()` | `#[serde(default)]` + `impl Default` |
//! | 2 | `<dir>/default.toml`, or the file given with `--config <file>` | `[grpc]`<br>`listen = "127.0.0.1:50051"` |
//! | 3 | `<dir>/<environment>.toml` | `config/prod.toml` |
//! | 4 | `<dir>/local.toml` — developer machines, keep it out of git | |
//! | 5 | environment variables with the service's prefix | `HELLO_SERVICE__GRPC__LISTEN=0.0.0.0:6000` |
//! | 6 | `--set key=value` arguments, repeatable | `--set grpc.listen=127.0.0.1:6000` |
//!
//! Missing files (and a missing directory) are fine; a file named with
//! `--config` that does not exist is an error, and so is a named environment
//! without a file whose name is close to one that has a file (`APP_ENV=prodution`
//! next to `prod.toml`: [`ConfigError::UnknownEnvironment`], "did you mean
//! \"prod\"?"). The environment comes from
//! [`Loader::environment`], else `APP_ENV`, else `dev`. When the type has a
//! `[service]` section ([`ServiceIdentity`]), the loader fills in
//! `service.name`, `service.environment` and (with [`Loader::version`])
//! `service.version`, just above the defaults.
//!
//! ## Environment variables
//!
//! The prefix is the service name upper-cased with `-` turned into `_`
//! ([`env_prefix`]), then `__` per nesting level. Segments are lower-cased, and
//! a single `_` stays part of a key:
//!
//! | variable | key |
//! |----------|-----|
//! | `HELLO_SERVICE__GRPC__LISTEN=127.0.0.1:6000` | `grpc.listen` |
//! | `HELLO_SERVICE__SERVICE__RUNBOOK_URL=https://…` | `service.runbook_url` |
//! | `HELLO_SERVICE__PROFILES__ENDPOINTS=http://a:1,http://b:2` | `profiles.endpoints` (a list) |
//! | `HELLO_SERVICE__DB__PASSWORD_FILE=/run/secrets/db` | `db.password`, read from the file |
//!
//! Values from variables and `--set` are text, parsed as whatever the field's
//! type asks for: numbers, `true`/`false`, durations, sizes, addresses, URLs. A
//! list-typed key takes comma-separated items (an empty value is an empty
//! list), or a TOML array (`["a,b", "c"]`) when items contain commas. An empty
//! value for an `Option` is `None`.
//!
//! # Provenance and `explain`
//!
//! [`Loaded::explain`] renders the effective configuration as TOML with the
//! layer of every leaf, secrets masked (and credentials in an [`Endpoint`]
//! URL shown as `***@`):
//!
//! ```text
//! [grpc]
//! listen = "0.0.0.0:6000"  # env HELLO_SERVICE__GRPC__LISTEN
//!
//! [admin]
//! token = "[REDACTED]"     # file config/local.toml
//!
//! [tracing.otlp]
//! endpoint = "https://***@collector:4317"  # env HELLO_SERVICE__TRACING__OTLP__ENDPOINT
//! ```
//!
//! [`Loaded::source_of`] answers the same question for one key.
//!
//! # Unknown keys
//!
//! A key the settings type does not have is an error — in a file, in an
//! environment variable with the prefix, or in `--set` — naming the key and the
//! layer, with a suggestion when a known key is close (`did you mean
//! `grpc.listen`?`). This works for structs with and without
//! `deny_unknown_fields`. [`Loader::allow_unknown_keys`] turns it off; unknown
//! keys are then dropped with a warning.
//!
//! # Validation and errors
//!
//! [`Validate`] runs after deserialisation; every problem is collected (use
//! [`Problems::check`] for nested sections) and reported in one
//! [`ConfigError::Validation`], each with its full key path and the layer that
//! set it. Type errors are collected the same way in [`ConfigError::Invalid`]:
//! the key, the layer, the expected type and (except for secrets) the rejected
//! value. Types without rules write `impl Validate for Settings {}`.
//!
//! # Types
//!
//! - [`Secret<T>`]: masked in `Debug`, `Display`, `Serialize` and `explain`;
//!   its parse errors never show the value.
//! - [`Endpoint`]: a URL that may carry credentials
//!   (`https://user:pw@collector:4317`); its `user:pw@` part shows as `***@`
//!   in `Debug`, `Display`, `Serialize` and `explain`, and
//!   [`Endpoint::expose`] gives the URL as written to the code that dials it.
//! - [`duration`]: `#[serde(with = "boost_config::duration")]` for
//!   `std::time::Duration` in human form (`"250ms"`, `"2s"`, `"1m30s"`);
//!   `boost_config::duration::option` for `Option<Duration>`.
//! - [`ByteSize`]: `"64KiB"`, `"10MB"`, or a plain number of bytes.
//! - `std::net::SocketAddr`, `url::Url` and everything else with serde support.
//!
//! # Secrets from files
//!
//! `HELLO_SERVICE__DB__PASSWORD_FILE=/run/secrets/db` sets `db.password` to the
//! file's content without its trailing newline. Errors name the variable and
//! the path, never the content; `explain` masks the value whatever its type. A
//! known key that really ends in `_file` (say `log_file`) is set as usual.
//!
//! # Hot reload
//!
//! [`Loaded::watch`] returns a `tokio::sync::watch::Receiver<Arc<T>>`. When a
//! file of layers 2–4 changes, the loader runs again (after a 200 ms
//! [debounce](Loader::reload_debounce)); a configuration that loads *and*
//! validates is published, a broken one is logged with `tracing::error!` and
//! the last good one stays. Watching stops when the receiver is dropped.
//!
//! # Edge cases
//!
//! - No input makes the loader panic: invalid UTF-8, broken TOML, absurd
//!   values and deep nesting all come back as a [`ConfigError`].
//! - `T` must implement `Default` and `Serialize` as well as `Deserialize`:
//!   the serialised default lists the known keys (for suggestions and `_FILE`),
//!   and the serialised result is what `explain` prints.
//! - Layers merge key by key over the serialised `T::default()`: naming one
//!   key of a section keeps the section's other values at `T::default()`,
//!   even where the section type's own `Default` differs. Values that
//!   serialise as nothing (`None`, `skip_serializing_if`) and default
//!   [`Secret`]s (which serialise masked) are not seeded: in a section a layer
//!   names, those come from the section type's own `Default`; in a section no
//!   layer names, everything comes from `T::default()`. A map (a
//!   `BTreeMap`/`HashMap` field, not a struct) that any layer names is made of
//!   the layers' entries only, so a file can drop a default entry.
//! - Keys are case-sensitive in files; environment variables can only reach
//!   lower-case keys.
//! - Tests should use [`Loader::env_vars`] instead of setting process
//!   environment variables, which leak between tests running in parallel.
#![deny(missing_docs)]

// The derive macros name this crate `::boost_config`, also from its own tests.
extern crate self as boost_config;

/// Calls `$then!` with every leaf type a setting may have: scalars, strings,
/// addresses, sizes. Such values have no rules and no keys of their own, yet a
/// derived [`Validate`] or [`Document`] calls every field, so each needs an
/// (empty) impl of both. (`Duration` has a rule: see [`MAX_DURATION`].)
macro_rules! leaf_types {
    ($then:ident) => {
        $then!(
            bool,
            char,
            u8,
            u16,
            u32,
            u64,
            u128,
            usize,
            i8,
            i16,
            i32,
            i64,
            i128,
            isize,
            f32,
            f64,
            String,
            str,
            std::net::SocketAddr,
            std::net::IpAddr,
            std::net::Ipv4Addr,
            std::net::Ipv6Addr,
            std::path::PathBuf,
            url::Url,
            bytesize::ByteSize,
            crate::Endpoint,
            toml::Value,
        );
    };
}

mod args;
pub use validate::MAX_DURATION;
mod bounded;
mod de;
mod defaults;
mod depth;
mod document;
mod endpoint;
mod env;
mod error;
mod explain;
mod files;
mod identity;
mod loaded;
mod loader;
mod reference;
mod secret;
pub mod sections;
mod source;
mod suggest;
mod tree;
mod validate;
mod watch;

pub use boost_macros::{Document, Validate};
pub use bytesize::ByteSize;
#[doc(hidden)]
pub use document::__sample;
pub use document::{Docs, Document};
pub use endpoint::Endpoint;
pub use error::{ConfigError, Problem, ProblemKind};
#[doc(inline)]
pub use humantime_serde as duration;
pub use identity::{ServiceIdentity, env_prefix};
pub use loaded::Loaded;
pub use loader::Loader;
pub use reference::{differences, reference_toml};
pub use secret::{MASK, Secret};
pub use source::Source;
#[doc(hidden)]
pub use toml as __toml;
pub use validate::{Problems, Validate};
