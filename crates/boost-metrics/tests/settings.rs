//! `[metrics]` settings: defaults that work, typos rejected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use boost_metrics::MetricsSettings;

#[test]
fn an_empty_section_gives_the_documented_defaults() {
    let settings: MetricsSettings = toml::from_str("").unwrap();
    assert_eq!(settings, MetricsSettings::default());
    assert_eq!(settings.cardinality_limit, 1000);
    assert!(settings.process_metrics);
    assert!(settings.runtime_metrics);
    assert!(settings.buckets.is_empty());
}

#[test]
fn unknown_keys_are_rejected() {
    let error = toml::from_str::<MetricsSettings>("cardinality_limt = 10").unwrap_err();
    assert!(error.to_string().contains("cardinality_limt"), "{error}");
}

#[test]
fn settings_round_trip_through_serde() {
    let mut settings = MetricsSettings::default();
    settings.cardinality_limit = 50;
    settings
        .buckets
        .insert("payload_size_bytes".into(), vec![1.0, 10.0]);
    let json = serde_json::to_string(&settings).unwrap();
    assert_eq!(
        serde_json::from_str::<MetricsSettings>(&json).unwrap(),
        settings
    );
}
