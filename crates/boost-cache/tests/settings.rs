//! Settings come from config files and are validated with errors that name the field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use boost_cache::{Cache, CacheSettings, Error};

fn build(settings: CacheSettings) -> Result<Cache<String, String>, Error> {
    Cache::new(settings)
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
fn missing_name_is_an_error() {
    let error = build(CacheSettings::default()).unwrap_err();
    assert!(matches!(error, Error::MissingName));
    assert!(error.to_string().contains("`name`"), "{error}");
}

#[test]
fn refresh_after_must_be_below_ttl() {
    let mut settings = CacheSettings::new("c");
    settings.ttl = Some(Duration::from_secs(60));
    settings.refresh_after = Some(Duration::from_secs(60));
    let error = build(settings).unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidSetting {
                field: "refresh_after",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("below ttl"), "{error}");
}

#[test]
fn refresh_after_must_be_below_the_shortest_jittered_ttl() {
    let mut settings = CacheSettings::new("c");
    settings.ttl = Some(Duration::from_secs(100));
    settings.ttl_jitter = 0.1;
    settings.refresh_after = Some(Duration::from_secs(95));
    let error = build(settings).unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidSetting {
                field: "refresh_after",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn jitter_outside_zero_to_half_is_an_error() {
    for jitter in [-0.1, 0.7, f64::NAN] {
        let mut settings = CacheSettings::new("c");
        settings.ttl_jitter = jitter;
        let error = build(settings).unwrap_err();
        assert!(
            matches!(
                error,
                Error::InvalidSetting {
                    field: "ttl_jitter",
                    ..
                }
            ),
            "{error}"
        );
    }
}

#[test]
fn zero_durations_and_capacity_are_errors() {
    let mut settings = CacheSettings::new("c");
    settings.negative_ttl = Some(Duration::ZERO);
    assert!(matches!(
        build(settings).unwrap_err(),
        Error::InvalidSetting {
            field: "negative_ttl",
            ..
        }
    ));

    let mut settings = CacheSettings::new("c");
    settings.max_capacity = 0;
    let error = build(settings).unwrap_err();
    assert!(matches!(
        error,
        Error::InvalidSetting {
            field: "max_capacity",
            ..
        }
    ));
    assert!(
        error
            .to_string()
            .starts_with("cache `c`: setting `max_capacity`"),
        "{error}"
    );
}

#[test]
fn durations_longer_than_a_century_are_errors_not_panics() {
    // moka panics on lifetimes over 1000 years, and a jittered one could overflow.
    for field in ["ttl", "tti", "negative_ttl"] {
        let settings: CacheSettings =
            toml::from_str(&format!("name = \"c\"\n{field} = \"500years\"")).unwrap();
        let error = build(settings).unwrap_err();
        assert!(
            matches!(&error, Error::InvalidSetting { field: f, .. } if *f == field),
            "{error}"
        );
        assert!(error.to_string().contains("leave it unset"), "{error}");
    }
}
