//! Layer precedence: each layer overrides the one below it, and only that.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use boost_config::{ConfigError, Source};
use common::{Fixture, load, load_err};

#[test]
fn defaults_apply_when_no_layer_sets_a_key() {
    let fx = Fixture::new();
    let config = load(&fx.loader());
    assert_eq!(config.grpc.listen.to_string(), "127.0.0.1:50051");
    assert_eq!(config.profiles.timeout, Duration::from_millis(300));
    assert_eq!(config.source_of("grpc.listen"), Source::Default);
    assert_eq!(config.environment(), "dev");
}

#[test]
fn default_toml_overrides_defaults() {
    let fx = Fixture::new();
    let file = fx.write("default.toml", "[grpc]\nlisten = \"127.0.0.1:6001\"\n");
    let config = load(&fx.loader());
    assert_eq!(config.grpc.listen.to_string(), "127.0.0.1:6001");
    assert_eq!(config.source_of("grpc.listen"), Source::File(file));
    // Keys the file does not name keep their defaults.
    assert_eq!(config.profiles.retries, 2);
}

#[test]
fn environment_file_overrides_default_toml() {
    let fx = Fixture::new();
    fx.write(
        "default.toml",
        "[grpc]\nlisten = \"127.0.0.1:6001\"\n[db]\npool_size = 3\n",
    );
    let prod = fx.write("prod.toml", "[grpc]\nlisten = \"127.0.0.1:6002\"\n");
    let config = load(&fx.loader().environment("prod"));
    assert_eq!(config.grpc.listen.to_string(), "127.0.0.1:6002");
    assert_eq!(config.source_of("grpc.listen"), Source::File(prod));
    assert_eq!(config.db.pool_size, 3, "keys prod.toml does not name stay");
}

#[test]
fn local_toml_overrides_environment_file() {
    let fx = Fixture::new();
    fx.write("dev.toml", "[grpc]\nlisten = \"127.0.0.1:6002\"\n");
    let local = fx.write("local.toml", "[grpc]\nlisten = \"127.0.0.1:6003\"\n");
    let config = load(&fx.loader());
    assert_eq!(config.grpc.listen.to_string(), "127.0.0.1:6003");
    assert_eq!(config.source_of("grpc.listen"), Source::File(local));
}

#[test]
fn env_var_overrides_local_toml() {
    let fx = Fixture::new();
    fx.write("local.toml", "[grpc]\nlisten = \"127.0.0.1:6003\"\n");
    let config = load(&fx.loader_with_env(&[("HELLO_SERVICE__GRPC__LISTEN", "127.0.0.1:6004")]));
    assert_eq!(config.grpc.listen.to_string(), "127.0.0.1:6004");
    assert_eq!(
        config.source_of("grpc.listen"),
        Source::Env("HELLO_SERVICE__GRPC__LISTEN".to_owned())
    );
}

#[test]
fn set_argument_overrides_env_var() {
    let fx = Fixture::new();
    let config = load(
        &fx.loader_with_env(&[("HELLO_SERVICE__GRPC__LISTEN", "127.0.0.1:6004")])
            .args(["--set", "grpc.listen=127.0.0.1:6005"]),
    );
    assert_eq!(config.grpc.listen.to_string(), "127.0.0.1:6005");
    assert_eq!(config.source_of("grpc.listen"), Source::Set);
}

#[test]
fn later_set_argument_wins_over_earlier_one() {
    let fx = Fixture::new();
    let config =
        load(
            &fx.loader()
                .args(["--set", "profiles.retries=4", "--set=profiles.retries=5"]),
        );
    assert_eq!(config.profiles.retries, 5);
}

#[test]
fn config_argument_replaces_default_toml_but_not_the_layers_above() {
    let fx = Fixture::new();
    fx.write(
        "default.toml",
        "[grpc]\nlisten = \"127.0.0.1:6001\"\n[db]\npool_size = 3\n",
    );
    fx.write("dev.toml", "[profiles]\nretries = 7\n");
    let other = tempfile::tempdir().unwrap();
    let explicit = other.path().join("other.toml");
    std::fs::write(&explicit, "[grpc]\nlisten = \"127.0.0.1:7001\"\n").unwrap();

    let config = load(
        &fx.loader()
            .args(["--config".to_owned(), explicit.display().to_string()]),
    );
    assert_eq!(config.grpc.listen.to_string(), "127.0.0.1:7001");
    assert_eq!(config.source_of("grpc.listen"), Source::File(explicit));
    assert_eq!(config.db.pool_size, 8, "default.toml was not read");
    assert_eq!(config.profiles.retries, 7, "dev.toml still applies");
}

#[test]
fn missing_explicit_config_file_is_an_error() {
    let fx = Fixture::new();
    let missing = fx.path("nope.toml");
    let error = load_err(
        &fx.loader()
            .args(["--config".to_owned(), missing.display().to_string()]),
    );
    assert!(
        matches!(&error, ConfigError::MissingFile { path, flag: "--config" } if *path == missing),
        "{error:?}"
    );
    assert!(error.to_string().contains("nope.toml"), "{error}");
    assert!(error.to_string().contains("--config"), "{error}");
}

#[test]
fn missing_optional_files_and_directory_are_fine() {
    let config = load(
        &boost_config::Loader::new("hello-service")
            .dir("/definitely/not/here")
            .env_vars(Vec::<(String, String)>::new()),
    );
    assert_eq!(config.db.pool_size, 8);
}

#[test]
fn app_env_picks_the_environment_file() {
    let fx = Fixture::new();
    fx.write("staging.toml", "[profiles]\nretries = 9\n");
    let config = load(&fx.loader_with_env(&[("APP_ENV", "staging")]));
    assert_eq!(config.environment(), "staging");
    assert_eq!(config.profiles.retries, 9);
    assert_eq!(config.service.environment, "staging");
}

#[test]
fn builder_environment_wins_over_app_env() {
    let fx = Fixture::new();
    fx.write("staging.toml", "[profiles]\nretries = 9\n");
    fx.write("qa-eu.toml", "[profiles]\nretries = 4\n");
    let config = load(
        &fx.loader_with_env(&[("APP_ENV", "staging")])
            .environment("qa-eu"),
    );
    assert_eq!(config.environment(), "qa-eu");
    assert_eq!(config.profiles.retries, 4);
}

#[test]
fn environment_name_cannot_escape_the_config_directory() {
    let fx = Fixture::new();
    let error = load_err(&fx.loader().environment("../secrets"));
    assert!(
        matches!(error, ConfigError::Environment { .. }),
        "{error:?}"
    );
}

#[test]
fn service_identity_is_filled_from_the_loader_and_overridable() {
    let fx = Fixture::new();
    fx.write("default.toml", "[service]\nteam = \"boost\"\n");
    let config = load(&fx.loader().version("1.2.3"));
    assert_eq!(config.service.name, "hello-service");
    assert_eq!(config.service.version, "1.2.3");
    assert_eq!(config.service.team, "boost");

    let config = load(&fx.loader().args(["--set", "service.version=9.9.9"]));
    assert_eq!(config.service.version, "9.9.9");
}

#[test]
fn other_arguments_are_left_for_the_service() {
    let fx = Fixture::new();
    let config = load(&fx.loader().args([
        "--verbose",
        "--set",
        "profiles.retries=3",
        "serve",
        "--",
        "--set",
        "x=y",
    ]));
    assert_eq!(config.profiles.retries, 3);
    assert_eq!(
        config.remaining_args(),
        ["--verbose", "serve", "--", "--set", "x=y"]
    );
    assert!(!config.print_config_requested());
}

#[test]
fn a_misspelled_environment_next_to_its_file_is_refused_with_a_suggestion() {
    let fx = Fixture::new();
    fx.write("prod.toml", "[profiles]\nretries = 9\n");
    let error = load_err(&fx.loader_with_env(&[("APP_ENV", "prdo")]));
    let message = error.to_string();
    assert!(
        matches!(error, ConfigError::UnknownEnvironment { .. }),
        "{error:?}"
    );
    assert!(message.contains("APP_ENV=prdo"), "{message}");
    assert!(message.contains("did you mean \"prod\""), "{message}");
    for typo in ["prodution", "production"] {
        let error = load_err(&fx.loader_with_env(&[("APP_ENV", typo)]));
        assert!(
            error.to_string().contains("did you mean \"prod\""),
            "{typo}: {error}"
        );
    }

    // An environment unlike any file's needs no file of its own.
    let config = load(&fx.loader_with_env(&[("APP_ENV", "staging")]));
    assert_eq!(config.environment(), "staging");
    assert_eq!(config.profiles.retries, 2, "the default, not prod's 9");
}
