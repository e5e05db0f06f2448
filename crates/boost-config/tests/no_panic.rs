//! Whatever the input, loading returns a value or an error: it never panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, Settings};
use proptest::prelude::*;

/// Keys that exist in the settings type, plus a few that do not.
const KEYS: &[&str] = &[
    "service",
    "name",
    "grpc",
    "listen",
    "max_message_size",
    "admin",
    "token",
    "db",
    "password",
    "pin",
    "pool_size",
    "profiles",
    "endpoints",
    "timeout",
    "retries",
    "tags",
    "loose",
    "level",
    "x",
    "listen_file",
    "",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-z_]{0,8}",
        1 => any::<String>(),
    ]
}

fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(toml::Value::Boolean),
        any::<i64>().prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        any::<String>().prop_map(toml::Value::String),
        prop_oneof![
            Just("127.0.0.1:6000"),
            Just("250ms"),
            Just("64KiB"),
            Just("http://127.0.0.1:1"),
            Just("[REDACTED]"),
            Just("1m30s"),
        ]
        .prop_map(|s| toml::Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            proptest::collection::btree_map(key(), inner, 0..5)
                .prop_map(|map| toml::Value::Table(map.into_iter().collect())),
        ]
    })
}

fn check(loader: &boost_config::Loader) {
    match loader.load::<Settings>() {
        Ok(loaded) => {
            let _ = loaded.explain();
        }
        Err(error) => {
            let text = error.to_string();
            assert!(!text.is_empty());
            let _ = format!("{error:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_as_a_config_file_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let fx = Fixture::new();
        std::fs::write(fx.path("default.toml"), &bytes).unwrap();
        check(&fx.loader());
    }

    #[test]
    fn arbitrary_toml_like_text_never_panics(text in "(\\[[a-z.]{0,10}\\]\n)?([a-z_.]{0,10} ?= ?[-\"'0-9a-z:.\\[\\], {}=]{0,20}\n){0,6}") {
        let fx = Fixture::new();
        std::fs::write(fx.path("default.toml"), text).unwrap();
        check(&fx.loader());
    }

    #[test]
    fn arbitrary_toml_values_never_panic(table in proptest::collection::btree_map(key(), toml_value(), 0..6)) {
        let table: toml::Table = table.into_iter().collect();
        let Ok(text) = toml::to_string(&table) else { return Ok(()) };
        let fx = Fixture::new();
        std::fs::write(fx.path("default.toml"), text).unwrap();
        check(&fx.loader());
    }

    #[test]
    fn arbitrary_env_vars_and_set_arguments_never_panic(
        vars in proptest::collection::vec((proptest::collection::vec(key(), 1..4), any::<String>()), 0..4),
        sets in proptest::collection::vec(any::<String>(), 0..4),
    ) {
        let fx = Fixture::new();
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .map(|(path, value)| {
                let name = path.iter().map(|s| s.to_uppercase()).collect::<Vec<_>>().join("__");
                (format!("HELLO_SERVICE__{name}"), value)
            })
            .collect();
        let args: Vec<String> = sets.into_iter().flat_map(|s| ["--set".to_owned(), s]).collect();
        check(&fx.loader().env_vars(vars).args(args));
    }
}
