//! `check_config_dir` finds what drifts in a service's shipped config files:
//! kit sections in `default.toml`, values that differ from the code (named
//! key by key), and environment files that do not load.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use boost_config::{Document, Validate};
use boost_service::{Package, ServiceSettings, check_config_dir};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    /// Workers.
    workers: u32,
    /// Greeting.
    greeting: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            workers: 4,
            greeting: "hello".to_owned(),
        }
    }
}

impl ServiceSettings for Settings {}

const PACKAGE: Package = Package::new("check-demo", "1.0.0");

fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn check(dir: &Path) -> Vec<String> {
    check_config_dir::<Settings>(PACKAGE, dir)
}

#[test]
fn files_equal_to_the_code_pass() {
    let dir = dir(&[
        ("default.toml", "workers = 4\ngreeting = \"hello\"\n"),
        (
            "prod.toml",
            "workers = 16\n[grpc]\nlisten = \"0.0.0.0:50051\"\n",
        ),
    ]);
    assert_eq!(check(dir.path()), Vec::<String>::new());
}

#[test]
fn a_differing_value_is_named_with_both_values() {
    let dir = dir(&[("default.toml", "workers = 8\n")]);
    let problems = check(dir.path());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("workers: 8 ≠ 4 (file ≠ code)"),
        "{problems:?}"
    );
}

#[test]
fn a_kit_section_in_default_toml_is_a_problem() {
    let dir = dir(&[("default.toml", "[admin]\nrequest_timeout = \"30s\"\n")]);
    let problems = check(dir.path());
    assert!(
        problems
            .iter()
            .any(|p| p.contains("[admin] is a kit section")),
        "{problems:?}"
    );
}

#[test]
fn an_environment_file_that_does_not_load_is_named() {
    let dir = dir(&[
        ("default.toml", ""),
        ("prod.toml", "wrokers = 2\n"),
        ("local.toml", "this is a developer's own and not checked ="),
    ]);
    let problems = check(dir.path());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("prod.toml:"), "{problems:?}");
    assert!(
        problems[0].contains("did you mean `workers`"),
        "{problems:?}"
    );
}

#[test]
fn a_missing_default_toml_is_a_problem() {
    let dir = dir(&[]);
    let problems = check(dir.path());
    assert!(
        problems.iter().any(|p| p.contains("default.toml")),
        "{problems:?}"
    );
}
