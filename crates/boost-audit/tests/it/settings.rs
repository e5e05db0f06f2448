//! `[audit]` settings: defaults, and validation errors naming the key.

use std::path::PathBuf;

use boost_audit::{AuditError, AuditLog, AuditSettings};
use boost_config::{ByteSize, Problems};

#[test]
fn defaults_are_documented_ones() {
    let settings = AuditSettings::default();
    assert!(settings.enabled);
    assert_eq!(settings.file, PathBuf::from("audit.jsonl"));
    assert_eq!(settings.max_file_size, ByteSize::mib(64));
    assert_eq!(settings.recent, 1000);
    assert!(Problems::of("audit", &settings).is_empty());
}

#[test]
fn every_broken_rule_is_reported_under_its_key() {
    let mut settings = AuditSettings::new("");
    settings.recent = 100_001;
    settings.max_file_size = ByteSize::b(512);
    let problems = Problems::of("audit", &settings);
    assert_eq!(
        problems.keys().collect::<Vec<_>>(),
        ["audit.file", "audit.max_file_size", "audit.recent"]
    );

    let mut off = AuditSettings::new("");
    off.enabled = false;
    assert!(
        Problems::of("audit", &off).is_empty(),
        "no file needed when the file is off"
    );

    settings.max_file_size = ByteSize::gib(17);
    settings.recent = 0;
    settings.file = "a.jsonl".into();
    let problems = Problems::of("audit", &settings);
    assert_eq!(
        problems.keys().collect::<Vec<_>>(),
        ["audit.max_file_size", "audit.recent"]
    );
}

#[test]
fn open_refuses_broken_settings_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = AuditSettings::new(dir.path().join("audit.jsonl"));
    settings.recent = 0;
    let error = AuditLog::open(&settings, "hello-service").unwrap_err();
    assert!(matches!(error, AuditError::Settings(_)), "{error:?}");
    assert!(error.to_string().contains("`audit.recent`"), "{error}");
    assert!(!dir.path().join("audit.jsonl").exists());
}

#[test]
fn settings_read_from_config_text_and_refuse_unknown_keys() {
    let settings: AuditSettings = serde_json::from_str(
        r#"{"file": "/var/lib/hello/audit.jsonl", "max_file_size": "1 GiB", "recent": 50}"#,
    )
    .unwrap();
    assert_eq!(settings.max_file_size, ByteSize::gib(1));
    assert_eq!(settings.recent, 50);
    assert!(settings.enabled, "unset keys keep their defaults");
    let error = serde_json::from_str::<AuditSettings>(r#"{"recnet": 5}"#).unwrap_err();
    assert!(error.to_string().contains("recnet"), "{error}");
}

/// A service's settings with the kit's `[audit]` section.
#[derive(
    Debug,
    Default,
    serde::Serialize,
    serde::Deserialize,
    boost_config::Validate,
    boost_config::Document,
)]
#[serde(default, deny_unknown_fields)]
struct Config {
    /// The audit trail.
    audit: AuditSettings,
}

#[test]
fn the_loader_reports_a_broken_value_under_its_key_and_layer() {
    let error = boost_config::Loader::new("hello-service")
        .dir("no/such/dir")
        .env_vars([("HELLO_SERVICE__AUDIT__RECENT", "0")])
        .load::<Config>()
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("`audit.recent` (env HELLO_SERVICE__AUDIT__RECENT)"),
        "{message}"
    );
}

#[test]
fn the_reference_config_documents_every_key() {
    let reference = boost_config::reference_toml(&Config::default(), "");
    for expected in [
        "[audit]",
        "enabled = true",
        "file = \"audit.jsonl\"",
        "max_file_size = \"64.0 MiB\"",
        "recent = 1000",
        "# The largest the file may grow.",
    ] {
        assert!(reference.contains(expected), "{expected:?} in\n{reference}");
    }
}
