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

impl<'de, S: DeserializeOwned> Deserialize<'de> for Config<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (kit, own) = boost_config::sections::deserialize(deserializer, KitSettings::SECTIONS)?;
        Ok(Self { kit, own })
    }
}

impl<S: ServiceSettings> Validate for Config<S> {
    fn validate(&self, problems: &mut Problems) {
        self.kit.validate(problems);
        self.own.validate(problems);
        // A section of the service's named like one of the kit's would never
        // be read (the kit's type takes that key): refuse it loudly.
        if let Ok(own) = toml::Table::try_from(S::default()) {
            for key in own
                .keys()
                .filter(|key| KitSettings::SECTIONS.contains(&key.as_str()))
            {
                problems.add(
                    key,
                    format!(
                        "is a section the kit owns ([{key}]); the service's settings type \
                         must name its field differently"
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
