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

/// Runs `f` on a thread with a 2 MiB stack (a tokio worker's), so a stack
/// overflow would fail this test binary here rather than only in production.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

/// A config text nested `depth` levels deep in one of the four ways TOML nests.
fn nested_text(kind: u8, depth: usize, leaf: &str) -> String {
    match kind % 5 {
        0 => format!("a = {}{leaf}{}\n", "[".repeat(depth), "]".repeat(depth)),
        1 => format!("a = {}{leaf}{}\n", "{b = ".repeat(depth), "}".repeat(depth)),
        2 => format!("{}x = {leaf}\n", "a.".repeat(depth)),
        3 => format!("[{}x]\ny = {leaf}\n", "a.".repeat(depth)),
        _ => combined_nesting(depth % 79, (depth / 79).min(78) + 1)
            .replace("1}", &format!("{leaf}}}")),
    }
}

fn load_text(text: String) {
    let fx = Fixture::new();
    std::fs::write(fx.path("default.toml"), text).unwrap();
    check(&fx.loader());
}

#[test]
fn deeply_nested_config_files_are_refused_not_a_stack_overflow() {
    for kind in 0..4 {
        on_small_stack(move || {
            let fx = Fixture::new();
            std::fs::write(fx.path("default.toml"), nested_text(kind, 10_000, "1")).unwrap();
            let error = fx.loader().load::<Settings>().unwrap_err().to_string();
            assert!(error.contains("default.toml"), "{error}");
        });
    }
}

#[test]
fn deeply_nested_set_values_are_refused_not_a_stack_overflow() {
    on_small_stack(|| {
        let fx = Fixture::new();
        for value in [
            format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)),
            format!("{}1{}", "{b = ".repeat(100_000), "}".repeat(100_000)),
            format!(
                "[{}]",
                combined_nesting(78, 78).split_once(" = ").unwrap().1.trim()
            ),
        ] {
            // `profiles.tags` is a list: its text is parsed as a TOML array.
            for (key, var) in [
                ("loose.level", "LOOSE__LEVEL"),
                ("profiles.tags", "PROFILES__TAGS"),
            ] {
                let args = vec!["--set".to_owned(), format!("{key}={value}")];
                check(&fx.loader().args(args));
                let vars = vec![(format!("HELLO_SERVICE__{var}"), value.clone())];
                check(&fx.loader().env_vars(vars));
            }
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn arbitrarily_nested_config_files_never_overflow(
        kind in 0u8..5,
        depth in 0usize..5000,
        leaf in prop_oneof![Just("1".to_owned()), Just("\"]}\"".to_owned()), "[a-z0-9\"'\\[\\]{}]{0,6}"],
    ) {
        let started = std::time::Instant::now();
        on_small_stack(move || load_text(nested_text(kind, depth, &leaf)));
        prop_assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn arbitrarily_nested_set_values_never_overflow(
        kind in 0u8..2,
        depth in 0usize..5000,
        leaf in "[a-z0-9\"'\\[\\]{}]{0,6}",
    ) {
        let started = std::time::Instant::now();
        on_small_stack(move || {
            let text = nested_text(kind, depth, &leaf);
            let value = text.trim_start_matches("a = ").trim_end().to_owned();
            let fx = Fixture::new();
            let args = vec!["--set".to_owned(), format!("profiles.tags=[{value}]")];
            check(&fx.loader().args(args));
        });
        prop_assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}

/// Each inline table may hold a dotted key of up to 79 parts, so 79 inline
/// tables of 79-part keys nest ~6,000 tables while staying inside both of
/// the TOML parser's limits (80 nested arrays/inline tables, 80 key parts).
fn combined_nesting(levels: usize, parts: usize) -> String {
    let key = vec!["k"; parts].join(".");
    format!(
        "[{key}]\n{key} = {}1{}\n",
        format!("{{{key} = ").repeat(levels),
        "}".repeat(levels)
    )
}

#[test]
fn nesting_that_combines_keys_and_inline_tables_is_refused_not_a_stack_overflow() {
    on_small_stack(|| {
        let fx = Fixture::new();
        std::fs::write(fx.path("default.toml"), combined_nesting(78, 78)).unwrap();
        let error = fx.loader().load::<Settings>().unwrap_err().to_string();
        assert!(error.contains("default.toml"), "{error}");
    });
}

#[test]
fn stray_quotes_do_not_hide_nesting_from_the_depth_check() {
    let line = combined_nesting(78, 78).lines().nth(1).unwrap().to_owned();
    for prefix in [
        "x = 1' ",
        "x = 1\" ",
        "x = '",
        "x = \"",
        "'",
        "\"",
        "x = '''\n",
        "x = \"\"\"\\\n",
    ] {
        let text = format!("{prefix}{line}\n");
        on_small_stack(move || load_text(text));
    }
}
