//! `explain`: the effective configuration as TOML with the layer that set each value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, Settings, load};

#[test]
fn explain_comments_each_leaf_with_its_layer() {
    let fx = Fixture::new();
    let file = fx.write("default.toml", "[grpc]\nlisten = \"127.0.0.1:6001\"\n");
    let config = load(
        &fx.loader_with_env(&[("HELLO_SERVICE__PROFILES__RETRIES", "4")])
            .args(["--set", "db.pool_size=9"]),
    );
    let explained = config.explain();
    let line = |key: &str| {
        explained
            .lines()
            .find(|line| line.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no `{key}` line in:\n{explained}"))
            .to_owned()
    };
    assert!(
        line("listen").ends_with(&format!("# file {}", file.display())),
        "{explained}"
    );
    assert!(
        line("retries").ends_with("# env HELLO_SERVICE__PROFILES__RETRIES"),
        "{explained}"
    );
    assert!(line("pool_size").ends_with("# --set"), "{explained}");
    assert!(line("reflection").ends_with("# default"), "{explained}");
    assert!(
        line("name").ends_with("# loader (Loader::new)"),
        "{explained}"
    );
    assert!(explained.contains("[grpc]\n"), "{explained}");
    assert!(explained.contains("[profiles]\n"), "{explained}");
}

#[test]
fn explain_output_is_valid_toml_that_loads_back_to_the_same_values() {
    let fx = Fixture::new();
    fx.write(
        "default.toml",
        "[grpc]\nlisten = \"127.0.0.1:6001\"\nmax_message_size = \"64KiB\"\n\
         [profiles]\ntimeout = \"45s\"\ntags = [\"a\", \"b\"]\n",
    );
    let config = load(&fx.loader().args(["--set", "profiles.timeout=45s500ms"]));
    let explained = config.explain();
    let round_trip = Fixture::new();
    // Secrets are masked, so drop the keys that hold them before loading back.
    let without_secrets: String = explained
        .lines()
        .filter(|line| !line.contains(boost_config::MASK))
        .map(|line| format!("{line}\n"))
        .collect();
    round_trip.write("default.toml", &without_secrets);
    let again = load(&round_trip.loader());
    assert_eq!(again.grpc.listen, config.grpc.listen);
    assert_eq!(again.grpc.max_message_size, config.grpc.max_message_size);
    assert_eq!(again.profiles.timeout, config.profiles.timeout);
    assert_eq!(again.profiles.tags, config.profiles.tags);
}

#[test]
fn print_config_flag_is_reported_and_not_left_for_the_service() {
    let fx = Fixture::new();
    let config = load(&fx.loader().args(["--print-config"]));
    assert!(config.print_config_requested());
    assert!(config.remaining_args().is_empty());
}

#[test]
fn loaded_gives_shared_access_to_the_value() {
    let fx = Fixture::new();
    let config = load(&fx.loader());
    let shared: std::sync::Arc<Settings> = config.shared();
    assert_eq!(shared.db.pool_size, config.get().db.pool_size);
    assert_eq!(config.service_name(), "hello-service");
}
