//! Environment variables: `__` nests, `_` stays in a key, lists are comma-separated,
//! `_FILE` reads a secret from a file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use boost_config::{ConfigError, Source};
use common::{Fixture, load, load_err};

#[test]
fn double_underscore_nests_and_single_underscore_stays_in_the_key() {
    let fx = Fixture::new();
    let config = load(&fx.loader_with_env(&[
        ("HELLO_SERVICE__GRPC__LISTEN", "127.0.0.1:6000"),
        ("HELLO_SERVICE__GRPC__MAX_MESSAGE_SIZE", "16MiB"),
        ("HELLO_SERVICE__DB__POOL_SIZE", "12"),
        (
            "HELLO_SERVICE__SERVICE__RUNBOOK_URL",
            "https://runbooks.example.com/hello",
        ),
    ]));
    assert_eq!(config.grpc.listen.to_string(), "127.0.0.1:6000");
    assert_eq!(
        config.grpc.max_message_size,
        boost_config::ByteSize::mib(16)
    );
    assert_eq!(config.db.pool_size, 12);
    assert_eq!(
        config.service.runbook_url,
        "https://runbooks.example.com/hello"
    );
}

#[test]
fn env_text_is_parsed_as_the_field_type() {
    let fx = Fixture::new();
    let config = load(&fx.loader_with_env(&[
        ("HELLO_SERVICE__GRPC__REFLECTION", "false"),
        ("HELLO_SERVICE__PROFILES__RETRIES", "5"),
        ("HELLO_SERVICE__PROFILES__TIMEOUT", "30s500ms"),
    ]));
    assert!(!config.grpc.reflection);
    assert_eq!(config.profiles.retries, 5);
    assert_eq!(config.profiles.timeout, Duration::from_millis(30_500));
}

#[test]
fn list_keys_take_comma_separated_values() {
    let fx = Fixture::new();
    let config = load(&fx.loader_with_env(&[
        (
            "HELLO_SERVICE__PROFILES__ENDPOINTS",
            "http://127.0.0.1:7001, http://127.0.0.1:7002",
        ),
        ("HELLO_SERVICE__PROFILES__TAGS", "blue,green"),
    ]));
    let endpoints: Vec<String> = config
        .profiles
        .endpoints
        .iter()
        .map(|u| u.to_string())
        .collect();
    assert_eq!(
        endpoints,
        ["http://127.0.0.1:7001/", "http://127.0.0.1:7002/"]
    );
    assert_eq!(config.profiles.tags, ["blue", "green"]);
}

#[test]
fn an_empty_value_is_an_empty_list() {
    let fx = Fixture::new();
    fx.write("default.toml", "[profiles]\ntags = [\"a\"]\n");
    let config = load(&fx.loader_with_env(&[("HELLO_SERVICE__PROFILES__TAGS", "")]));
    assert!(config.profiles.tags.is_empty());
}

#[test]
fn a_toml_array_is_accepted_for_values_with_commas() {
    let fx = Fixture::new();
    let config = load(&fx.loader().args(["--set", r#"profiles.tags=["a,b", "c"]"#]));
    assert_eq!(config.profiles.tags, ["a,b", "c"]);
}

#[test]
fn list_from_set_argument() {
    let fx = Fixture::new();
    let config = load(&fx.loader().args([
        "--set",
        "profiles.endpoints=http://10.0.0.1:1,http://10.0.0.2:2",
    ]));
    assert_eq!(config.profiles.endpoints.len(), 2);
}

#[test]
fn variables_of_other_services_are_ignored() {
    let fx = Fixture::new();
    let config = load(&fx.loader_with_env(&[
        ("PROFILE_SERVICE__GRPC__LISTEN", "not an address"),
        ("HELLO_SERVICE_GRPC_LISTEN", "not an address either"),
        ("PATH", "/usr/bin"),
    ]));
    assert_eq!(config.grpc.listen.to_string(), "127.0.0.1:50051");
}

#[test]
fn empty_segment_is_a_syntax_error_naming_the_variable() {
    let fx = Fixture::new();
    let error = load_err(&fx.loader_with_env(&[("HELLO_SERVICE__GRPC____LISTEN", "127.0.0.1:1")]));
    assert!(
        matches!(&error, ConfigError::Env { var, .. } if var == "HELLO_SERVICE__GRPC____LISTEN"),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("HELLO_SERVICE__GRPC____LISTEN"),
        "{error}"
    );
}

#[test]
fn set_without_equals_is_a_syntax_error() {
    let fx = Fixture::new();
    let error = load_err(&fx.loader().args(["--set", "grpc.listen"]));
    assert!(matches!(error, ConfigError::Arg { .. }), "{error:?}");
    assert!(error.to_string().contains("key=value"), "{error}");

    let error = load_err(&fx.loader().args(["--set", "grpc..listen=1"]));
    assert!(error.to_string().contains("grpc..listen"), "{error}");

    let error = load_err(&fx.loader().args(["--set"]));
    assert!(error.to_string().contains("--set"), "{error}");
}

#[test]
fn file_suffix_reads_a_secret_from_the_named_file_without_trailing_newline() {
    let fx = Fixture::new();
    let secret = fx.write("db-password", "correct horse battery staple\n");
    let var = "HELLO_SERVICE__DB__PASSWORD_FILE";
    let config = load(&fx.loader_with_env(&[(var, secret.to_str().unwrap())]));
    assert_eq!(config.db.password.expose(), "correct horse battery staple");
    assert_eq!(
        config.source_of("db.password"),
        Source::EnvFile {
            var: var.to_owned(),
            path: secret
        }
    );
}

#[test]
fn file_suffix_works_for_optional_secrets_too() {
    let fx = Fixture::new();
    let secret = fx.write("token", "t0ken\r\n");
    let config = load(
        &fx.loader_with_env(&[("HELLO_SERVICE__ADMIN__TOKEN_FILE", secret.to_str().unwrap())]),
    );
    assert_eq!(
        config.admin.token.as_ref().map(|t| t.expose().as_str()),
        Some("t0ken")
    );
}

#[test]
fn unreadable_secret_file_names_the_variable_and_path() {
    let fx = Fixture::new();
    let missing = PathBuf::from("/run/secrets/definitely-missing-db");
    let error = load_err(&fx.loader_with_env(&[(
        "HELLO_SERVICE__DB__PASSWORD_FILE",
        missing.to_str().unwrap(),
    )]));
    let text = error.to_string();
    assert!(matches!(error, ConfigError::SecretFile { .. }), "{error:?}");
    assert!(text.contains("HELLO_SERVICE__DB__PASSWORD_FILE"), "{text}");
    assert!(
        text.contains("/run/secrets/definitely-missing-db"),
        "{text}"
    );
}

#[test]
fn setting_a_key_and_its_file_variant_together_is_an_error() {
    let fx = Fixture::new();
    let secret = fx.write("pw", "a");
    let error = load_err(&fx.loader_with_env(&[
        ("HELLO_SERVICE__DB__PASSWORD", "b"),
        ("HELLO_SERVICE__DB__PASSWORD_FILE", secret.to_str().unwrap()),
    ]));
    assert!(matches!(error, ConfigError::Env { .. }), "{error:?}");
    assert!(
        error.to_string().contains("HELLO_SERVICE__DB__PASSWORD"),
        "{error}"
    );
}
