//! A secret never reaches Debug output, the explanation or any error message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use boost_config::{ConfigError, MASK};
use common::{Fixture, load, load_err};

const CANARY: &str = "canary-7f3a9c-do-not-print";

fn assert_no_canary(what: &str, text: &str) {
    assert!(
        !text.contains(CANARY),
        "the secret leaked into {what}:\n{text}"
    );
    assert!(
        !text.contains("7f3a9c"),
        "part of the secret leaked into {what}:\n{text}"
    );
}

fn assert_error_hides_canary(error: &ConfigError) {
    assert_no_canary("an error's Display", &error.to_string());
    assert_no_canary("an error's Debug", &format!("{error:?}"));
}

#[test]
fn secret_from_env_is_masked_in_debug_and_explain() {
    let fx = Fixture::new();
    let loader = fx.loader_with_env(&[
        ("HELLO_SERVICE__DB__PASSWORD", CANARY),
        ("HELLO_SERVICE__ADMIN__TOKEN", CANARY),
    ]);
    assert_no_canary("the loader's Debug", &format!("{loader:?}"));
    let config = load(&loader);
    assert_eq!(config.db.password.expose(), CANARY);
    assert_no_canary("Debug", &format!("{config:?}"));
    assert_no_canary("Debug of the settings", &format!("{:#?}", config.get()));
    let explained = config.explain();
    assert_no_canary("explain", &explained);
    assert!(
        explained.contains(&format!("password = \"{MASK}\"")),
        "{explained}"
    );
    assert!(
        explained.contains(&format!("token = \"{MASK}\"")),
        "{explained}"
    );
}

#[test]
fn secret_from_file_and_set_is_masked_in_explain() {
    let fx = Fixture::new();
    fx.write("default.toml", &format!("[db]\npassword = \"{CANARY}\"\n"));
    let pin = fx.write("pin", "1234\n");
    let config = load(
        &fx.loader_with_env(&[("HELLO_SERVICE__DB__PIN_FILE", pin.to_str().unwrap())])
            .args(["--set".to_owned(), format!("admin.token={CANARY}")]),
    );
    assert_eq!(*config.db.pin.expose(), 1234);
    let explained = config.explain();
    assert_no_canary("explain", &explained);
    assert!(!explained.contains("1234"), "{explained}");
}

#[test]
fn type_error_on_a_secret_key_hides_the_value_but_names_key_and_type() {
    let fx = Fixture::new();
    // `db.pin` is a `Secret<u32>`.
    let error = load_err(&fx.loader_with_env(&[("HELLO_SERVICE__DB__PIN", CANARY)]));
    assert_error_hides_canary(&error);
    let text = error.to_string();
    assert!(text.contains("`db.pin`"), "{text}");
    assert!(text.contains("HELLO_SERVICE__DB__PIN"), "{text}");
    assert!(text.contains("u32"), "{text}");

    fx.write("default.toml", &format!("[db]\npin = \"{CANARY}\"\n"));
    assert_error_hides_canary(&load_err(&fx.loader()));

    let error = load_err(
        &fx.loader()
            .args(["--set".to_owned(), format!("db.pin={CANARY}")]),
    );
    assert_error_hides_canary(&error);
}

#[test]
fn type_error_on_a_value_from_a_secret_file_hides_the_value() {
    let fx = Fixture::new();
    // `db.pool_size` is a plain `u32`, but the value came from a secret file.
    let file = fx.write("pool", CANARY);
    let error = load_err(
        &fx.loader_with_env(&[("HELLO_SERVICE__DB__POOL_SIZE_FILE", file.to_str().unwrap())]),
    );
    assert_error_hides_canary(&error);
    assert!(error.to_string().contains("`db.pool_size`"), "{error}");
}

#[test]
fn malformed_set_argument_does_not_echo_its_value() {
    let fx = Fixture::new();
    let error = load_err(&fx.loader().args(["--set".to_owned(), CANARY.to_owned()]));
    assert_error_hides_canary(&error);
    let error = load_err(
        &fx.loader()
            .args(["--set".to_owned(), format!("a..b={CANARY}")]),
    );
    assert_error_hides_canary(&error);
}

#[test]
fn syntax_error_in_a_file_does_not_quote_the_file() {
    let fx = Fixture::new();
    fx.write("default.toml", &format!("[db]\npassword = \"{CANARY}\n"));
    let error = load_err(&fx.loader());
    assert!(matches!(error, ConfigError::Parse { .. }), "{error:?}");
    assert_error_hides_canary(&error);
}

#[test]
fn unknown_secret_looking_key_does_not_show_its_value() {
    let fx = Fixture::new();
    let error = load_err(&fx.loader_with_env(&[("HELLO_SERVICE__DB__PASSWROD", CANARY)]));
    assert_error_hides_canary(&error);
    assert!(
        error.to_string().contains("did you mean `db.password`?"),
        "{error}"
    );
}

#[test]
fn validation_error_on_a_secret_does_not_show_it() {
    let fx = Fixture::new();
    let error = load_err(
        &fx.loader_with_env(&[("HELLO_SERVICE__DB__PASSWORD", CANARY)])
            .args(["--set", "db.pool_size=0"]),
    );
    assert!(matches!(error, ConfigError::Validation { .. }), "{error:?}");
    assert_error_hides_canary(&error);
}

mod property {
    use super::common::{Fixture, Settings};
    use proptest::prelude::*;

    fn shown(loader: &boost_config::Loader) -> String {
        match loader.load::<Settings>() {
            Ok(loaded) => format!("{}\n{loaded:?}", loaded.explain()),
            Err(error) => format!("{error}\n{error:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Whatever the value and whichever secret key and layer, the value is
        /// never printed.
        #[test]
        fn a_value_given_to_a_secret_key_is_never_shown(
            junk in "[ -~]{0,6}",
            digits in "[0-9]{10}",
            key in prop_oneof![Just("db.password"), Just("db.pin"), Just("admin.token")],
            layer in 0..4usize,
        ) {
            let canary = format!("{junk}SECRET{digits}{junk}");
            let marker = format!("SECRET{digits}");
            let fx = Fixture::new();
            let (section, field) = key.split_once('.').unwrap();
            let var = format!("HELLO_SERVICE__{}__{}", section.to_uppercase(), field.to_uppercase());
            let loader = match layer {
                0 => fx.loader_with_env(&[(&var, &canary)]),
                1 => fx.loader().args(["--set".to_owned(), format!("{key}={canary}")]),
                2 => {
                    let escaped = toml::Value::String(canary.clone()).to_string();
                    fx.write("default.toml", &format!("[{section}]\n{field} = {escaped}\n"));
                    fx.loader()
                }
                _ => {
                    let file = fx.write("secret", &canary);
                    let var = format!("{var}_FILE");
                    fx.loader_with_env(&[(&var, file.to_str().unwrap())])
                }
            };
            let text = shown(&loader);
            prop_assert!(!text.contains(&marker), "layer {layer}, key {key}:\n{text}");
        }
    }
}
