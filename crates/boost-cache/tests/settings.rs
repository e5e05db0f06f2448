//! Settings come from config files and are validated by their `Validate` rules: every problem
//! is reported under its key, whether the loader or `Cache::new` runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use boost_cache::{Cache, CacheSettings, Error};
use boost_config::{ConfigError, Docs, Loader, Problems, Source, Validate};
use serde::{Deserialize, Serialize};

fn build(settings: CacheSettings) -> Result<Cache<String, String>, Error> {
    Cache::new(settings)
}

/// The `ConfigError` building a cache with `settings` fails with.
fn config_error(settings: CacheSettings) -> ConfigError {
    match build(settings) {
        Err(Error::Config(error)) => error,
        Err(other) => panic!("expected Error::Config, got {other:?}"),
        Ok(_) => panic!("expected the settings to be rejected"),
    }
}

/// `(key, message)` of every problem building a cache with `settings` reports.
fn problems(settings: CacheSettings) -> Vec<(String, String)> {
    config_error(settings)
        .problems()
        .iter()
        .map(|p| (p.key.clone(), p.to_string()))
        .collect()
}

fn keys(problems: &[(String, String)]) -> Vec<&str> {
    problems.iter().map(|(key, _)| key.as_str()).collect()
}

#[test]
fn settings_read_from_toml_with_human_durations() {
    let settings: CacheSettings = toml::from_str(
        r#"
        name = "profiles"
        max_capacity = 5000
        ttl = "5m"
        tti = "1m"
        ttl_jitter = 0.1
        negative_ttl = "30s"
        refresh_after = "4m"
        "#,
    )
    .unwrap();
    assert_eq!(settings.name, "profiles");
    assert_eq!(settings.max_capacity, 5000);
    assert_eq!(settings.ttl, Some(Duration::from_secs(300)));
    assert_eq!(settings.tti, Some(Duration::from_secs(60)));
    assert_eq!(settings.negative_ttl, Some(Duration::from_secs(30)));
    assert_eq!(settings.refresh_after, Some(Duration::from_secs(240)));
    assert!(build(settings).is_ok());
}

#[test]
fn defaults_are_documented_values() {
    let settings: CacheSettings = toml::from_str(r#"name = "x""#).unwrap();
    assert_eq!(settings, CacheSettings::new("x"));
    assert_eq!(settings.max_capacity, 10_000);
    assert_eq!(settings.ttl_jitter, 0.05);
    assert_eq!(
        (
            settings.ttl,
            settings.tti,
            settings.negative_ttl,
            settings.refresh_after
        ),
        (None, None, None, None)
    );
}

#[test]
fn unknown_setting_is_rejected() {
    let error = toml::from_str::<CacheSettings>("name = \"x\"\nttl_jiter = 0.1").unwrap_err();
    assert!(error.to_string().contains("ttl_jiter"), "{error}");
}

#[test]
fn settings_round_trip_through_toml() {
    let mut settings = CacheSettings::new("round-trip");
    settings.ttl = Some(Duration::from_millis(1500));
    let text = toml::to_string(&settings).unwrap();
    assert_eq!(toml::from_str::<CacheSettings>(&text).unwrap(), settings);
}

#[test]
fn a_missing_name_is_a_problem_under_cache_name() {
    let problems = problems(CacheSettings::default());
    assert_eq!(keys(&problems), ["cache.name"]);
    assert!(problems[0].1.contains("is empty"), "{problems:?}");
    let error = config_error(CacheSettings::new("  "));
    assert!(
        error
            .to_string()
            .starts_with("configuration for a cache without a name failed validation"),
        "{error}"
    );
}

#[test]
fn refresh_after_must_be_below_ttl() {
    let mut settings = CacheSettings::new("c");
    settings.ttl = Some(Duration::from_secs(60));
    settings.refresh_after = Some(Duration::from_secs(60));
    let problems = problems(settings);
    assert_eq!(keys(&problems), ["c.refresh_after"]);
    assert!(problems[0].1.contains("below ttl"), "{problems:?}");
}

#[test]
fn refresh_after_must_be_below_the_shortest_jittered_ttl() {
    let mut settings = CacheSettings::new("c");
    settings.ttl = Some(Duration::from_secs(100));
    settings.ttl_jitter = 0.1;
    settings.refresh_after = Some(Duration::from_secs(95));
    let problems = problems(settings);
    assert_eq!(keys(&problems), ["c.refresh_after"]);
    assert!(
        problems[0].1.contains("may expire after 1m 30s"),
        "{problems:?}"
    );
}

#[test]
fn jitter_outside_zero_to_half_is_a_problem() {
    for jitter in [-0.1, 0.7, 1.5, f64::NAN, f64::INFINITY] {
        let mut settings = CacheSettings::new("c");
        settings.ttl_jitter = jitter;
        let problems = problems(settings);
        assert_eq!(keys(&problems), ["c.ttl_jitter"], "jitter {jitter}");
        assert!(
            problems[0].1.contains("between 0.0 and 0.5"),
            "{problems:?}"
        );
    }
    for jitter in [0.0, 0.5] {
        let mut settings = CacheSettings::new("c");
        settings.ttl_jitter = jitter;
        assert!(build(settings).is_ok(), "jitter {jitter}");
    }
}

#[test]
fn zero_durations_and_zero_capacity_are_problems_naming_the_key() {
    let mut settings = CacheSettings::new("c");
    settings.negative_ttl = Some(Duration::ZERO);
    settings.ttl = Some(Duration::ZERO);
    settings.tti = Some(Duration::ZERO);
    settings.refresh_after = Some(Duration::ZERO);
    settings.max_capacity = 0;
    let problems = problems(settings);
    assert_eq!(
        keys(&problems),
        [
            "c.max_capacity",
            "c.ttl",
            "c.tti",
            "c.negative_ttl",
            "c.refresh_after"
        ]
    );
    assert!(
        problems[0]
            .1
            .starts_with("`c.max_capacity` (set in code): is 0, so nothing could be cached"),
        "{problems:?}"
    );
    assert!(problems[1].1.contains("leave it unset"), "{problems:?}");
}

#[test]
fn durations_longer_than_a_year_are_problems_not_panics() {
    // moka panics on lifetimes over 1000 years, and a jittered one could overflow.
    for field in ["ttl", "tti", "negative_ttl", "refresh_after"] {
        let settings: CacheSettings =
            toml::from_str(&format!("name = \"c\"\n{field} = \"500years\"")).unwrap();
        let problems = problems(settings);
        assert_eq!(keys(&problems), [format!("c.{field}")]);
        assert!(problems[0].1.contains("unset"), "{problems:?}");
        assert!(problems[0].1.contains("365days"), "{problems:?}");
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut settings = CacheSettings::new("profiles");
    settings.max_capacity = 0;
    settings.ttl_jitter = 0.9;
    settings.ttl = Some(Duration::from_secs(10));
    settings.refresh_after = Some(Duration::from_secs(20));
    let error = config_error(settings.clone());
    let keys: Vec<&str> = error.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "profiles.max_capacity",
            "profiles.ttl_jitter",
            "profiles.refresh_after"
        ]
    );
    assert!(
        error.problems().iter().all(|p| p.source == Source::Code),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("configuration for cache `profiles` failed validation (3 problems)"),
        "{error}"
    );
    // The same list as the `Validate` rules give anyone else, e.g. the config loader.
    let direct: Vec<String> = Problems::of("profiles", &settings)
        .keys()
        .map(String::from)
        .collect();
    assert_eq!(direct, keys);
}

/// A service's settings with a cache section, as hello-service has.
#[derive(Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ServiceSettings {
    profile_cache: CacheSettings,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            profile_cache: CacheSettings::new("profiles"),
        }
    }
}

impl Validate for ServiceSettings {
    fn validate(&self, problems: &mut Problems) {
        problems.check("profile_cache", &self.profile_cache);
    }
}

#[test]
fn the_loader_reports_cache_problems_under_the_section_with_their_layer() {
    let error = Loader::new("svc")
        .dir("no/such/dir")
        .env_vars([
            ("SVC__PROFILE_CACHE__TTL", "1m"),
            ("SVC__PROFILE_CACHE__REFRESH_AFTER", "2m"),
            ("SVC__PROFILE_CACHE__MAX_CAPACITY", "0"),
        ])
        .load::<ServiceSettings>()
        .unwrap_err();
    assert!(matches!(error, ConfigError::Validation { .. }), "{error:?}");
    let found: Vec<(&str, String)> = error
        .problems()
        .iter()
        .map(|p| (p.key.as_str(), p.source.to_string()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "profile_cache.max_capacity",
                "env SVC__PROFILE_CACHE__MAX_CAPACITY".to_owned()
            ),
            (
                "profile_cache.refresh_after",
                "env SVC__PROFILE_CACHE__REFRESH_AFTER".to_owned()
            ),
        ]
    );
}

#[test]
fn every_key_is_documented_with_its_default() {
    let docs = Docs::of::<CacheSettings>();
    let defaults = toml::Table::try_from(CacheSettings::new("x")).unwrap();
    let documented = [
        "name",
        "max_capacity",
        "max_bytes",
        "max_entry_share",
        "ttl",
        "tti",
        "ttl_jitter",
        "negative_ttl",
        "refresh_after",
    ];
    for key in defaults.keys() {
        assert!(
            documented.contains(&key.as_str()),
            "new key {key}: list it here"
        );
    }
    for key in documented {
        let doc = docs.get(key).unwrap_or_default();
        assert!(
            doc.to_lowercase().contains("default"),
            "`{key}` must say its default: {doc:?}"
        );
    }
}

#[test]
fn a_budget_too_small_or_a_share_outside_0_to_1_is_refused_under_its_key() {
    let mut settings = CacheSettings::new("c");
    settings.max_bytes = boost_config::ByteSize::b(10);
    settings.max_entry_share = 0.0;
    let problems = boost_config::Problems::of("c", &settings);
    assert_eq!(
        problems.keys().collect::<Vec<_>>(),
        ["c.max_bytes", "c.max_entry_share"]
    );
    for share in [f64::NAN, -0.1, 1.5] {
        settings.max_bytes = boost_config::ByteSize::mib(1);
        settings.max_entry_share = share;
        let problems = boost_config::Problems::of("c", &settings);
        assert_eq!(
            problems.keys().collect::<Vec<_>>(),
            ["c.max_entry_share"],
            "{share}"
        );
    }
}

#[test]
fn max_bytes_reads_human_sizes() {
    let settings: CacheSettings =
        toml::from_str("name = \"p\"\nmax_bytes = \"16 MiB\"\nmax_entry_share = 0.05").unwrap();
    assert_eq!(settings.max_bytes, boost_config::ByteSize::mib(16));
    assert_eq!(
        CacheSettings::new("p").max_bytes,
        boost_config::ByteSize::mib(64)
    );
}

#[test]
fn an_l2_table_reads_from_toml_and_masks_its_credentials() {
    let settings: CacheSettings = toml::from_str(
        r#"
        name = "profiles"
        ttl = "1m"
        [l2]
        backend = "redis"
        url = "redis://svc:s3cret@redis:6379/0"
        key_prefix = "hello:"
        ttl = "30m"
        timeout = "50ms"
        coalesce = true
        "#,
    )
    .unwrap();
    let l2 = settings.l2.as_ref().unwrap();
    assert_eq!(l2.url.expose(), "redis://svc:s3cret@redis:6379/0");
    assert_eq!(l2.ttl, Some(Duration::from_secs(1800)));
    assert_eq!(l2.timeout, Duration::from_millis(50));
    assert!(l2.coalesce);
    assert_eq!(l2.pool_size, 2, "defaults for the rest");
    assert!(Problems::of("profile_cache", &settings).is_empty());
    assert!(!format!("{settings:?}").contains("s3cret"));
    assert!(!toml::to_string(&settings).unwrap().contains("s3cret"));
    // A cache built without the second tier its settings ask for is an error, not a
    // silent in-process cache.
    let error = build(settings).unwrap_err();
    assert!(matches!(error, Error::SecondTier { .. }), "{error:?}");
    assert!(!error.to_string().contains("s3cret"));
}

#[test]
fn every_bad_l2_value_is_reported_under_its_key() {
    let settings: CacheSettings = toml::from_str(
        r#"
        name = "profiles"
        [l2]
        url = "http://redis:6379"
        key_prefix = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        timeout = "0s"
        connect_timeout = "1h"
        pool_size = 0
        max_value_bytes = 10
        max_key_bytes = 1
        lease = "2m"
        failure_threshold = 0
        open_for = "0s"
        "#,
    )
    .unwrap();
    let problems = Problems::of("profile_cache", &settings);
    let mut keys: Vec<&str> = problems.keys().collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "profile_cache.l2.connect_timeout",
            "profile_cache.l2.failure_threshold",
            "profile_cache.l2.key_prefix",
            "profile_cache.l2.lease",
            "profile_cache.l2.max_key_bytes",
            "profile_cache.l2.max_value_bytes",
            "profile_cache.l2.open_for",
            "profile_cache.l2.pool_size",
            "profile_cache.l2.timeout",
            "profile_cache.l2.ttl",
            "profile_cache.l2.url",
        ]
    );
    let bad = toml::from_str::<CacheSettings>("name = \"p\"\n[l2]\nbackend = \"memcached\"\n");
    assert!(bad.is_err(), "an unknown backend is refused");
}
