//! The loader's bounds: what it reads, how long it takes, how much it says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use boost_config::{ConfigError, Loader, ProblemKind, Validate};
use common::{Fixture, Settings, load_err};
use serde::{Deserialize, Serialize};

/// Generous enough for a debug build on a loaded 2-core machine; the
/// unbounded reads these tests pin took minutes and gigabytes.
const QUICK: Duration = Duration::from_secs(20);

#[cfg(unix)]
#[test]
fn config_flag_naming_dev_zero_is_refused_quickly_naming_file_and_limit() {
    let fx = Fixture::new();
    let started = Instant::now();
    let error = load_err(&fx.loader().args(["--config", "/dev/zero"]));
    assert!(started.elapsed() < QUICK, "{:?}", started.elapsed());
    assert!(
        matches!(error, ConfigError::FileTooLarge { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("/dev/zero") && text.contains("4 MiB"),
        "{text}"
    );
}

#[test]
fn config_file_over_the_limit_is_refused() {
    let fx = Fixture::new();
    let line = "# padding padding padding padding padding padding padding padding\n";
    fx.write(
        "default.toml",
        &line.repeat(4 * 1024 * 1024 / line.len() + 1),
    );
    let error = load_err(&fx.loader());
    assert!(
        matches!(error, ConfigError::FileTooLarge { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("default.toml"), "{error}");
}

#[cfg(unix)]
#[test]
fn secret_file_naming_dev_zero_is_refused_quickly_naming_variable_and_limit() {
    let fx = Fixture::new();
    let started = Instant::now();
    let error = load_err(&fx.loader_with_env(&[("HELLO_SERVICE__ADMIN__TOKEN_FILE", "/dev/zero")]));
    assert!(started.elapsed() < QUICK, "{:?}", started.elapsed());
    assert!(
        matches!(error, ConfigError::SecretFileTooLarge { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("HELLO_SERVICE__ADMIN__TOKEN_FILE")
            && text.contains("/dev/zero")
            && text.contains("64 KiB"),
        "{text}"
    );
}

#[test]
fn empty_secret_file_is_an_error_not_no_secret() {
    let fx = Fixture::new();
    for content in ["", "\n", "\r\n"] {
        let file = fx.write("token", content);
        let error = load_err(
            &fx.loader_with_env(&[("HELLO_SERVICE__ADMIN__TOKEN_FILE", file.to_str().unwrap())]),
        );
        assert!(
            matches!(error, ConfigError::SecretFileEmpty { .. }),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(
            text.contains("HELLO_SERVICE__ADMIN__TOKEN_FILE") && text.contains("token"),
            "{text}"
        );
    }
}

#[test]
fn config_dir_that_is_a_file_is_an_error() {
    let fx = Fixture::new();
    let not_a_dir = fx.write("config", "[grpc]\nlisten = \"127.0.0.1:1\"\n");
    let error = load_err(&fx.loader().dir(&not_a_dir));
    assert!(
        matches!(error, ConfigError::NotADirectory { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("is not a directory"), "{error}");
}

/// A settings type with a map-typed section, like a table of routes.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct Routed {
    grpc: Grpc,
    routes: BTreeMap<String, u32>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct Grpc {
    listen: String,
}

impl Validate for Routed {}

fn loader_with(fx: &Fixture, text: &str) -> Loader {
    fx.write("default.toml", text);
    fx.loader()
}

fn table(section: &str, keys: usize, value: &str) -> String {
    let mut text = format!("[{section}]\n");
    for i in 0..keys {
        text.push_str(&format!("k{i:06} = {value}\n"));
    }
    text
}

#[test]
fn a_map_of_100k_keys_loads_in_linear_time() {
    // Quadratic loading took ~11 s for 50,000 keys in release; linear takes
    // well under a second, so this bound on a debug build only fails on a
    // quadratic step. Speed targets live in the bench (benches/config.rs).
    let fx = Fixture::new();
    let loader = loader_with(&fx, &table("routes", 100_000, "1"));
    let started = Instant::now();
    let loaded = loader.load::<Routed>().unwrap();
    assert!(started.elapsed() < QUICK, "{:?}", started.elapsed());
    assert_eq!(loaded.routes.len(), 100_000);
}

#[test]
fn unknown_keys_are_all_counted_and_a_few_are_listed() {
    let fx = Fixture::new();
    let loader = loader_with(&fx, &table("grpc", 40_000, "1"));
    let started = Instant::now();
    let error = loader.load::<Routed>().unwrap_err();
    assert!(started.elapsed() < QUICK, "{:?}", started.elapsed());
    assert_eq!(error.problems().len(), 40_000);
    let text = error.to_string();
    assert!(text.contains("(40000 problems)"), "{}", &text[..200]);
    assert!(text.contains("and 39980 more problems"), "{text}");
    assert_eq!(text.lines().count(), 1 + 20 + 1, "{text}");
}

#[test]
fn bad_values_past_the_search_limit_say_the_count_is_a_lower_bound() {
    let fx = Fixture::new();
    let loader = loader_with(&fx, &table("routes", 10_000, "\"not a number\""));
    let started = Instant::now();
    let error = loader.load::<Routed>().unwrap_err();
    assert!(started.elapsed() < QUICK, "{:?}", started.elapsed());
    let problems = error.problems();
    assert!(matches!(
        problems.last().map(|p| &p.kind),
        Some(ProblemKind::NotSearched { .. })
    ));
    let text = error.to_string();
    assert!(text.contains("(at least "), "{text}");
    assert!(text.contains("stopped looking"), "{text}");
}

#[test]
fn every_validation_problem_is_counted_and_twenty_are_listed() {
    struct Many;
    impl Validate for Many {
        fn validate(&self, problems: &mut boost_config::Problems) {
            for i in 0..100 {
                problems.add(&format!("k{i}"), "bad");
            }
        }
    }
    let error = boost_config::Problems::of("s", &Many)
        .into_result("many")
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("(100 problems)") && text.contains("and 80 more problems"),
        "{text}"
    );
    assert_eq!(error.problems().len(), 100);
}

#[test]
fn settings_fixture_still_loads() {
    // The fixture type every other test uses is unaffected by the bounds.
    let fx = Fixture::new();
    fx.write("default.toml", "[grpc]\nlisten = \"127.0.0.1:7000\"\n");
    assert!(fx.loader().load::<Settings>().is_ok());
}
