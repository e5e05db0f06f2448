//! [`Config`]: a service's whole configuration — the kit's standard sections
//! and the service's own settings, in one file.

use std::ops::Deref;

use boost_config::{Docs, Document, Problems, Validate};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::kit::KitSettings;

/// A service's own settings: its sections and keys beside the kit's.
///
/// ```
/// use std::time::Duration;
/// use boost_config::{Document, Validate};
/// use boost_service::{KitSettings, ServiceSettings};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, Default, Deserialize, Serialize, Validate, Document)]
/// #[serde(default, deny_unknown_fields)]
/// struct Settings {
///     /// Words per greeting.
///     words: u32,
/// }
///
/// impl ServiceSettings for Settings {
///     // This service serves on other ports than the kit's defaults.
///     fn kit_defaults(kit: &mut KitSettings) {
///         kit.grpc.listen = "127.0.0.1:50052".parse().unwrap_or(kit.grpc.listen);
///     }
/// }
/// ```
///
/// Derive [`Validate`] (every field is checked under its key, nested sections
/// included, plus your own rules with `#[validate(custom = …)]`) and
/// [`Document`] (doc comments become the generated reference file's
/// comments). A top-level key of the kit's ([`KitSettings::SECTIONS`]) is
/// refused when the configuration loads.
pub trait ServiceSettings:
    Default + Serialize + DeserializeOwned + Validate + Document + Send + Sync + 'static
{
    /// The kit's defaults as this service wants them, before any file or
    /// variable: e.g. its own ports. Default: the kit's defaults unchanged.
    fn kit_defaults(kit: &mut KitSettings) {
        let _ = kit;
    }
}

/// Settings for a service with no keys of its own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NoSettings {}

impl Validate for NoSettings {}
impl Document for NoSettings {}
impl ServiceSettings for NoSettings {}

/// A service's whole configuration: the kit's sections ([`KitSettings`]) and
/// the service's own (`S`), sharing the top level of one file. Derefs to `S`.
///
/// [`Service::load`](crate::Service::load) loads it; tests load it with a
/// [`Loader`](boost_config::Loader) (`Loader::new("demo").load::<Config<Settings>>()`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Config<S> {
    /// The kit's standard sections.
    #[serde(flatten)]
    pub kit: KitSettings,
    /// The service's own settings.
    #[serde(flatten)]
    pub own: S,
}

impl<S: ServiceSettings> Default for Config<S> {
    fn default() -> Self {
        let mut kit = KitSettings::default();
        S::kit_defaults(&mut kit);
        Self {
            kit,
            own: S::default(),
        }
    }
}

impl<S> Config<S> {
    /// The kit's sections with the service's own settings `own`.
    pub fn new(kit: KitSettings, own: S) -> Self {
        Self { kit, own }
    }
}

impl<'de, S: ServiceSettings> Deserialize<'de> for Config<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut defaults = KitSettings::default();
        S::kit_defaults(&mut defaults);
        let (kit, own) = crate::kit::with_defaults(defaults, || {
            boost_config::sections::deserialize(deserializer, KitSettings::SECTIONS)
        })?;
        Ok(Self { kit, own })
    }
}

impl<S: ServiceSettings> Validate for Config<S> {
    fn validate(&self, problems: &mut Problems) {
        self.kit.validate(problems);
        self.own.validate(problems);
        // A section of the service's named like one of the kit's would never
        // be read (the kit's type takes that key): refuse it loudly. Names the
        // kit reserves for coming releases are refused now, so adding them
        // later breaks no service.
        if let Ok(own) = toml::Table::try_from(S::default()) {
            for key in own.keys() {
                let why = if KitSettings::SECTIONS.contains(&key.as_str()) {
                    "is a section the kit owns"
                } else if KitSettings::RESERVED.contains(&key.as_str()) {
                    "is a section name the kit reserves for a coming release"
                } else {
                    continue;
                };
                problems.add(
                    key,
                    format!(
                        "{why} ([{key}]); the service's settings type must name its field \
                         differently"
                    ),
                );
            }
        }
    }
}

impl<S: Document> Document for Config<S> {
    fn document(docs: &mut Docs) {
        docs.flatten::<KitSettings>();
        docs.flatten::<S>();
    }
}

impl<S> Deref for Config<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.own
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(
        Debug,
        Default,
        PartialEq,
        Serialize,
        Deserialize,
        boost_config::Validate,
        boost_config::Document,
    )]
    #[serde(default, deny_unknown_fields)]
    struct Own {
        workers: u32,
    }

    impl ServiceSettings for Own {
        fn kit_defaults(kit: &mut KitSettings) {
            kit.grpc.listen = ([127, 0, 0, 1], 50052).into();
            kit.admin.listen = ([127, 0, 0, 1], 8082).into();
        }
    }

    fn load(args: &[&str]) -> Result<boost_config::Loaded<Config<Own>>, boost_config::ConfigError> {
        boost_config::Loader::new("demo")
            .dir("no/such/dir")
            .env_vars([("APP_ENV", ""), ("DEMO__WORKERS", "4")])
            .args(args.iter().copied())
            .load::<Config<Own>>()
    }

    #[test]
    fn kit_defaults_hold_in_sections_no_layer_names_and_in_those_one_does()
    -> Result<(), boost_config::ConfigError> {
        let untouched = load(&[])?;
        assert_eq!(untouched.kit.grpc.listen.port(), 50052);
        assert_eq!(untouched.kit.admin.listen.port(), 8082);
        assert_eq!(untouched.workers, 4, "env text parsed as the field's type");
        let touched = load(&["--set", "admin.request_timeout=5s"])?;
        assert_eq!(touched.kit.admin.listen.port(), 8082);
        assert_eq!(
            touched.kit.admin.request_timeout,
            std::time::Duration::from_secs(5)
        );
        Ok(())
    }

    #[test]
    fn a_key_in_neither_half_is_unknown_with_a_suggestion_from_both() {
        let error = load(&["--set", "grpc.lisen=127.0.0.1:1", "--set", "workerz=2"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("did you mean `grpc.listen`"), "{error}");
        assert!(error.contains("did you mean `workers`"), "{error}");
    }

    #[test]
    fn problems_of_both_halves_are_reported_together_with_their_keys() {
        let error = load(&[
            "--set",
            "grpc.server.request_timeout=0s",
            "--set",
            "lifecycle.shutdown_timeout=0s",
        ])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            error.contains("`grpc.server.request_timeout` (--set)"),
            "{error}"
        );
        assert!(
            error.contains("`lifecycle.shutdown_timeout` (--set)"),
            "{error}"
        );
    }

    #[derive(
        Debug, Default, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
    )]
    #[serde(default)]
    struct Clashing {
        grpc: u32,
    }
    impl ServiceSettings for Clashing {}

    #[derive(
        Debug, Default, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
    )]
    #[serde(default)]
    struct Reserving {
        backend: u32,
    }
    impl ServiceSettings for Reserving {}

    #[test]
    fn a_service_section_named_like_a_reserved_kit_section_is_refused() {
        let error = boost_config::Loader::new("demo")
            .dir("no/such/dir")
            .env_vars([("APP_ENV", "")])
            .load::<Config<Reserving>>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("`backend`") && error.contains("reserves"),
            "{error}"
        );
    }

    #[test]
    fn a_service_section_named_like_a_kit_section_is_refused() {
        let error = boost_config::Loader::new("demo")
            .dir("no/such/dir")
            .env_vars([("APP_ENV", "")])
            .load::<Config<Clashing>>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("`grpc`") && error.contains("section the kit owns"),
            "{error}"
        );
    }

    #[test]
    fn durations_that_would_overflow_a_clock_are_refused_at_load_naming_the_key() {
        // A keepalive of ~584 billion years passed validation and panicked
        // every connection (an `Instant` overflow in hyper).
        let error = boost_config::Loader::new("demo")
            .dir("no/such/dir")
            .env_vars([
                ("APP_ENV", ""),
                (
                    "DEMO__GRPC__SERVER__KEEPALIVE_INTERVAL",
                    "18446744073709551615s",
                ),
                ("DEMO__LIFECYCLE__SHUTDOWN_TIMEOUT", "2years"),
                ("DEMO__ADMIN__REQUEST_TIMEOUT", "400days"),
            ])
            .load::<Config<crate::NoSettings>>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        for key in [
            "grpc.server.keepalive_interval",
            "lifecycle.shutdown_timeout",
            "admin.request_timeout",
        ] {
            assert!(
                error.contains(&format!("`{key}`")),
                "{key} not named: {error}"
            );
        }
        assert!(
            error.contains("DEMO__GRPC__SERVER__KEEPALIVE_INTERVAL"),
            "{error}"
        );
    }
}
