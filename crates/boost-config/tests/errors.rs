//! Errors name the key, the layer and what was expected, and report everything at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use boost_config::{ConfigError, Loader, ProblemKind, Source, Validate};
use common::{Fixture, load_err};
use serde::{Deserialize, Serialize};

fn bad_value_message<'a>(error: &'a ConfigError, key: &str) -> &'a str {
    let problem = error
        .problems()
        .iter()
        .find(|p| p.key == key)
        .unwrap_or_else(|| panic!("no problem for `{key}` in:\n{error}"));
    match &problem.kind {
        ProblemKind::BadValue { message } => message,
        other => panic!("expected a bad value for `{key}`, got {other:?}"),
    }
}

#[test]
fn type_error_in_a_file_names_key_file_and_expected_type() {
    let fx = Fixture::new();
    let file = fx.write("default.toml", "[profiles]\nretries = \"abc\"\n");
    let error = load_err(&fx.loader());
    let problem = &error.problems()[0];
    assert_eq!(problem.key, "profiles.retries");
    assert_eq!(problem.source, Source::File(file.clone()));
    assert_eq!(problem.line, Some(2));
    let text = error.to_string();
    assert!(text.contains("`profiles.retries`"), "{text}");
    assert!(text.contains(&format!("{}:2", file.display())), "{text}");
    assert!(text.contains("expected u8"), "{text}");
    assert!(text.contains("\"abc\""), "the bad value is shown: {text}");
}

#[test]
fn type_error_in_an_env_var_names_the_variable() {
    let fx = Fixture::new();
    let var = "HELLO_SERVICE__DB__POOL_SIZE";
    let error = load_err(&fx.loader_with_env(&[(var, "lots")]));
    let problem = &error.problems()[0];
    assert_eq!(problem.key, "db.pool_size");
    assert_eq!(problem.source, Source::Env(var.to_owned()));
    let text = error.to_string();
    assert!(text.contains(var), "{text}");
    assert!(text.contains("expected u32"), "{text}");
    assert!(text.contains("lots"), "{text}");
}

#[test]
fn out_of_range_number_is_a_type_error() {
    let fx = Fixture::new();
    let error = load_err(&fx.loader().args(["--set", "profiles.retries=300"]));
    let message = bad_value_message(&error, "profiles.retries");
    assert!(message.contains("u8"), "{message}");
    assert_eq!(error.problems()[0].source, Source::Set);
}

#[test]
fn bad_duration_is_reported_with_the_expected_form() {
    let fx = Fixture::new();
    fx.write("default.toml", "[profiles]\ntimeout = \"300 parsecs\"\n");
    let error = load_err(&fx.loader());
    let message = bad_value_message(&error, "profiles.timeout");
    assert!(message.contains("expected a duration"), "{message}");
    assert!(message.contains("300 parsecs"), "{message}");
}

#[test]
fn duration_must_be_a_string_with_a_unit() {
    let fx = Fixture::new();
    fx.write("default.toml", "[profiles]\ntimeout = 300\n");
    let error = load_err(&fx.loader());
    let message = bad_value_message(&error, "profiles.timeout");
    assert!(message.contains("duration"), "{message}");
}

#[test]
fn bad_byte_size_is_reported() {
    let fx = Fixture::new();
    let error = load_err(&fx.loader_with_env(&[("HELLO_SERVICE__GRPC__MAX_MESSAGE_SIZE", "big")]));
    let message = bad_value_message(&error, "grpc.max_message_size");
    assert!(message.contains("big"), "{message}");
}

#[test]
fn byte_sizes_and_durations_in_human_form_load() {
    let fx = Fixture::new();
    fx.write(
        "default.toml",
        "[grpc]\nmax_message_size = \"64KiB\"\n[profiles]\ntimeout = \"250ms\"\n",
    );
    let config = common::load(&fx.loader());
    assert_eq!(config.grpc.max_message_size.as_u64(), 64 * 1024);
    assert_eq!(config.profiles.timeout.as_millis(), 250);
    let config = common::load(&fx.loader().args([
        "--set",
        "grpc.max_message_size=10MB",
        "--set",
        "profiles.timeout=30s250ms",
    ]));
    assert_eq!(config.grpc.max_message_size.as_u64(), 10_000_000);
    assert_eq!(config.profiles.timeout.as_millis(), 30_250);
}

#[test]
fn several_bad_values_are_reported_together() {
    let fx = Fixture::new();
    fx.write(
        "default.toml",
        "[grpc]\nlisten = \"nowhere\"\n[profiles]\ntimeout = \"soon\"\n",
    );
    let error = load_err(&fx.loader().args(["--set", "db.pool_size=-1"]));
    let keys: Vec<&str> = error.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys.len(), 3, "{error}");
    for key in ["grpc.listen", "profiles.timeout", "db.pool_size"] {
        assert!(keys.contains(&key), "{key} missing from:\n{error}");
    }
    assert!(
        error
            .to_string()
            .starts_with("invalid configuration for hello-service (3 problems):")
    );
}

#[test]
fn several_validation_errors_are_reported_at_once_with_their_layers() {
    let fx = Fixture::new();
    let file = fx.write("default.toml", "[grpc]\nlisten = \"127.0.0.1:0\"\n");
    let error = load_err(
        &fx.loader_with_env(&[("HELLO_SERVICE__DB__POOL_SIZE", "0")])
            .args([
                "--set",
                "profiles.endpoints=",
                "--set",
                "profiles.timeout=5m",
            ]),
    );
    assert!(matches!(error, ConfigError::Validation { .. }), "{error:?}");
    let found: Vec<(&str, &Source)> = error
        .problems()
        .iter()
        .map(|p| (p.key.as_str(), &p.source))
        .collect();
    assert_eq!(
        found,
        [
            ("grpc.listen", &Source::File(file)),
            (
                "db.pool_size",
                &Source::Env("HELLO_SERVICE__DB__POOL_SIZE".to_owned())
            ),
            ("profiles.endpoints", &Source::Set),
            ("profiles.timeout", &Source::Set),
        ]
    );
    let text = error.to_string();
    assert!(text.contains("failed validation (4 problems)"), "{text}");
    assert!(text.contains("port 0 is not allowed"), "{text}");
    assert!(text.contains("must be between 1 and 100"), "{text}");
}

#[test]
fn validation_of_nested_identity_uses_full_key_paths() {
    let fx = Fixture::new();
    let error = load_err(&fx.loader().args(["--set", "service.runbook_url=not a url"]));
    assert_eq!(error.problems()[0].key, "service.runbook_url");
}

#[test]
fn identity_values_that_would_break_generated_rules_are_refused_under_their_keys() {
    let fx = Fixture::new();
    for (set, key) in [
        ("service.name=a{{b", "service.name"),
        ("service.name=hello service", "service.name"),
        ("service.team=x\nreceivers: []", "service.team"),
        ("service.team=a{{b}}", "service.team"),
        ("service.oncall=\"quoted\"", "service.oncall"),
    ] {
        let error = load_err(&fx.loader().args(["--set", set]));
        assert!(
            error.problems().iter().any(|p| p.key == key),
            "{set}: {:?}",
            error.problems()
        );
    }
}

#[test]
fn toml_syntax_error_names_file_and_line() {
    let fx = Fixture::new();
    let file = fx.write(
        "dev.toml",
        "[grpc]\nlisten = \"127.0.0.1:1\"\nreflection = tru\n",
    );
    let error = load_err(&fx.loader());
    match &error {
        ConfigError::Parse { path, line, .. } => {
            assert_eq!(path, &file);
            assert_eq!(*line, Some(3));
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    let text = error.to_string();
    assert!(text.contains(&format!("{}:3:", file.display())), "{text}");
}

#[test]
fn file_that_is_not_utf8_is_a_parse_error() {
    let fx = Fixture::new();
    let path = fx.path("default.toml");
    std::fs::write(&path, b"[grpc]\nlisten = \"\xff\xfe\"\n").unwrap();
    let error = load_err(&fx.loader());
    assert!(
        matches!(&error, ConfigError::Parse { line: Some(2), .. }),
        "{error:?}"
    );
}

#[test]
fn a_directory_where_a_file_should_be_is_a_read_error() {
    let fx = Fixture::new();
    std::fs::create_dir(fx.path("local.toml")).unwrap();
    let error = load_err(&fx.loader());
    assert!(matches!(error, ConfigError::ReadFile { .. }), "{error:?}");
    assert!(error.to_string().contains("local.toml"), "{error}");
}

/// A type with a required key (no serde default).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Strict {
    name: String,
    port: u16,
}

impl Validate for Strict {}

#[test]
fn required_key_that_no_layer_sets_is_reported_as_missing() {
    let fx = Fixture::new();
    fx.write("default.toml", "port = 1\n");
    let error = Loader::new("strict")
        .dir(fx.dir.path())
        .env_vars(Vec::<(String, String)>::new())
        .load::<Strict>()
        .unwrap_err();
    let problem = &error.problems()[0];
    assert_eq!(problem.key, "name");
    assert_eq!(problem.kind, ProblemKind::Missing);
    assert!(error.to_string().contains("`name` is required"), "{error}");
}

#[test]
fn bad_value_of_a_required_key_is_not_also_reported_missing() {
    let fx = Fixture::new();
    fx.write("default.toml", "name = \"x\"\nport = \"eighty\"\n");
    let error = Loader::new("strict")
        .dir(fx.dir.path())
        .env_vars(Vec::<(String, String)>::new())
        .load::<Strict>()
        .unwrap_err();
    assert_eq!(error.problems().len(), 1, "{error}");
    assert_eq!(error.problems()[0].key, "port");
}
