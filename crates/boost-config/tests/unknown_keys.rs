//! Unknown keys are errors in every layer, with the layer named and a suggestion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use boost_config::{ConfigError, Problem, ProblemKind, Source};
use common::{Fixture, load, load_err};

fn only_problem(error: &ConfigError) -> &Problem {
    assert!(matches!(error, ConfigError::Invalid { .. }), "{error:?}");
    let problems = error.problems();
    assert_eq!(problems.len(), 1, "{error}");
    &problems[0]
}

fn assert_unknown(error: &ConfigError, key: &str, source: &Source, suggestion: &str) {
    let problem = only_problem(error);
    assert_eq!(problem.key, key, "{error}");
    assert_eq!(&problem.source, source, "{error}");
    assert_eq!(
        problem.kind,
        ProblemKind::UnknownKey {
            suggestion: Some(suggestion.to_owned())
        },
        "{error}"
    );
    let text = error.to_string();
    assert!(text.contains(&format!("`{key}`")), "{text}");
    assert!(text.contains(&source.to_string()), "{text}");
    assert!(
        text.contains(&format!("did you mean `{suggestion}`?")),
        "{text}"
    );
}

#[test]
fn unknown_key_in_default_toml_suggests_nearest() {
    let fx = Fixture::new();
    let file = fx.write("default.toml", "[grpc]\nlisen = \"127.0.0.1:1\"\n");
    let error = load_err(&fx.loader());
    assert_unknown(&error, "grpc.lisen", &Source::File(file), "grpc.listen");
}

#[test]
fn unknown_key_in_environment_file_suggests_nearest() {
    let fx = Fixture::new();
    let file = fx.write("prod.toml", "[profiles]\ntimout = \"1s\"\n");
    let error = load_err(&fx.loader().environment("prod"));
    assert_unknown(
        &error,
        "profiles.timout",
        &Source::File(file),
        "profiles.timeout",
    );
}

#[test]
fn unknown_section_in_local_toml_suggests_nearest() {
    let fx = Fixture::new();
    let file = fx.write("local.toml", "[grcp]\nlisten = \"127.0.0.1:1\"\n");
    let error = load_err(&fx.loader());
    assert_unknown(
        &error,
        "grcp.listen",
        &Source::File(file.clone()),
        "grpc.listen",
    );
    assert_eq!(error.problems()[0].line, Some(2));
    assert!(
        error.to_string().contains(&format!("{}:2", file.display())),
        "{error}"
    );
}

#[test]
fn unknown_key_in_explicit_config_file_suggests_nearest() {
    let fx = Fixture::new();
    let file = fx.write("other.toml", "[db]\npool_sise = 3\n");
    let error = load_err(
        &fx.loader()
            .args(["--config".to_owned(), file.display().to_string()]),
    );
    assert_unknown(&error, "db.pool_sise", &Source::File(file), "db.pool_size");
}

#[test]
fn unknown_env_key_suggests_nearest() {
    let fx = Fixture::new();
    let var = "HELLO_SERVICE__GRPC__LISTN";
    let error = load_err(&fx.loader_with_env(&[(var, "127.0.0.1:1")]));
    assert_unknown(
        &error,
        "grpc.listn",
        &Source::Env(var.to_owned()),
        "grpc.listen",
    );
}

#[test]
fn unknown_set_key_suggests_nearest() {
    let fx = Fixture::new();
    let error = load_err(&fx.loader().args(["--set", "admin.tokne=abc"]));
    assert_unknown(&error, "admin.tokne", &Source::Set, "admin.token");
}

#[test]
fn unknown_key_in_a_lenient_section_is_still_reported() {
    let fx = Fixture::new();
    let file = fx.write("default.toml", "[loose]\nlevle = \"debug\"\n");
    let error = load_err(&fx.loader());
    assert_unknown(&error, "loose.levle", &Source::File(file), "loose.level");
}

#[test]
fn unknown_key_far_from_any_known_key_has_no_suggestion_but_says_how_to_opt_out() {
    let fx = Fixture::new();
    fx.write("default.toml", "[telemetry]\nendpoint = \"x\"\n");
    let error = load_err(&fx.loader());
    let problem = only_problem(&error);
    assert_eq!(problem.kind, ProblemKind::UnknownKey { suggestion: None });
    assert!(error.to_string().contains("allow_unknown_keys"), "{error}");
}

#[test]
fn every_unknown_key_is_reported_at_once() {
    let fx = Fixture::new();
    fx.write("default.toml", "[grpc]\nlisen = 1\n[db]\npool_sise = 2\n");
    let error = load_err(&fx.loader_with_env(&[("HELLO_SERVICE__ADMIN__TOKNE", "x")]));
    let keys: Vec<&str> = error.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys.len(), 3, "{error}");
    for key in ["grpc.lisen", "db.pool_sise", "admin.tokne"] {
        assert!(keys.contains(&key), "{key} missing from {error}");
    }
}

#[test]
fn allow_unknown_keys_drops_them_and_loads_the_rest() {
    let fx = Fixture::new();
    fx.write(
        "default.toml",
        "[grpc]\nlisen = 1\nlisten = \"127.0.0.1:6001\"\n[telemetry]\nx = 1\n[loose]\nlevle = 1\n",
    );
    let config = load(
        &fx.loader_with_env(&[("HELLO_SERVICE__NOT__A_KEY", "x")])
            .allow_unknown_keys(true),
    );
    assert_eq!(config.grpc.listen.to_string(), "127.0.0.1:6001");
}
