//! hello-service's own settings. The kit's sections (`[service]`, `[grpc]`,
//! `[admin]`, `[lifecycle]`, `[tracing]`, `[metrics]`) come with the kit;
//! `hello-service --print-default-config` prints all of them, with their
//! defaults and documentation (`config-reference.toml` is that output).

use std::time::Duration;

use boost::prelude::*;

/// The gRPC method hello-service calls upstream.
pub const GET_PROFILE: &str = "hello.v1.Profiles/GetProfile";

/// hello-service's own keys, beside the kit's sections.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Validate, Document)]
#[serde(crate = "boost::serde", default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Settings {
    /// The upstream profile-service, called for each name not in the cache:
    /// its endpoints, the total time per lookup (retries included), retries,
    /// ejection and balancing.
    pub profiles: ClientSettings,
    /// The cache of languages in front of profile-service.
    pub profile_cache: CacheSettings,
    /// How SayHello treats its deadline.
    pub greeting: GreetingSettings,
}

/// How SayHello treats its deadline (`[greeting]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Validate, Document)]
#[serde(crate = "boost::serde", default, deny_unknown_fields)]
#[validate(custom = GreetingSettings::rules)]
#[non_exhaustive]
pub struct GreetingSettings {
    /// Time kept back from the caller's deadline to answer in: with less
    /// left, the profile lookup is skipped or cut short and the greeting is
    /// English rather than DEADLINE_EXCEEDED.
    #[serde(with = "boost::config::duration")]
    pub deadline_reserve: Duration,
}

impl GreetingSettings {
    fn rules(&self, problems: &mut Problems) {
        if self.deadline_reserve > Duration::from_secs(10) {
            problems.add(
                "deadline_reserve",
                "is more than 10s: every greeting would skip the lookup; the default is 20ms",
            );
        }
    }
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
        // The service's contract with its callers, whatever the kit's default.
        profiles.timeout = Duration::from_millis(300);
        profiles.retry.idempotent_methods = vec![GET_PROFILE.to_owned()];
        let mut profile_cache = CacheSettings::new("profiles");
        profile_cache.ttl = Some(Duration::from_secs(300));
        profile_cache.negative_ttl = Some(Duration::from_secs(30));
        Self {
            profiles,
            profile_cache,
            greeting: GreetingSettings::default(),
        }
    }
}

impl ServiceSettings for Settings {
    /// Declares the `profiles_upstream` switch, so the operator can stop
    /// calling profile-service at night without a deploy.
    fn kit_defaults(kit: &mut KitSettings) {
        kit.switches.declared.insert(
            crate::greeter::PROFILES_UPSTREAM.to_owned(),
            SwitchDef::toggle(
                "Call profile-service for the caller's language. Off: greet in English without \
                 calling it (counted in hello_degraded_total{reason=\"switched_off\"}); turn it off \
                 when profile-service is down or slow and its owners are on it.",
                "greeters",
                true,
            ),
        );
    }
}
