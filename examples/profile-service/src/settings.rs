//! profile-service's own settings: its table of profiles. The kit's
//! sections come with the kit (`profile-service --print-default-config`
//! prints every key); this service only moves the kit's default ports
//! (gRPC `127.0.0.1:50052`, admin `127.0.0.1:8082`), so it runs beside
//! hello-service on one machine.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

use boost::prelude::*;

/// profile-service's own keys, beside the kit's sections.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Validate, Document)]
#[serde(crate = "boost::serde", default, deny_unknown_fields)]
#[validate(custom = Settings::rules)]
#[non_exhaustive]
pub struct Settings {
    /// The profile table: name → language (ISO 639-1 code). Default: alice en,
    /// bob fr, carmen es, dieter de, giulia it, joao pt, noor nl.
    pub profiles: BTreeMap<String, String>,
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
            profiles: profiles
                .into_iter()
                .map(|(name, language)| (name.to_owned(), language.to_owned()))
                .collect(),
        }
    }
}

impl Settings {
    fn rules(&self, problems: &mut Problems) {
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

impl ServiceSettings for Settings {
    fn kit_defaults(kit: &mut KitSettings) {
        kit.grpc.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 50052));
        kit.admin.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 8082));
    }
}
