//! The shipped configuration files stay true: `config/default.toml` holds only
//! profile-service's own keys, at their compiled-in defaults; `config/prod.toml`
//! loads; the proto is the shared one; `--print-config` and
//! `--print-default-config` work.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use boost::config::{Loaded, Loader, differences};
use boost::service::Config;
use profile_service::settings::Settings;

const NAME: &str = env!("CARGO_PKG_NAME");

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn load(loader: Loader) -> Loaded<Config<Settings>> {
    loader
        .version(env!("CARGO_PKG_VERSION"))
        .env_vars([("APP_ENV", "")])
        .load::<Config<Settings>>()
        .unwrap()
}

fn defaults() -> Config<Settings> {
    load(Loader::new(NAME).dir(manifest_dir().join("no-such-dir")))
        .get()
        .clone()
}

#[test]
fn shipped_config_files_load_and_default_toml_is_the_compiled_in_defaults() {
    let problems = boost::service::check_config_dir::<Settings>(
        boost::package!(),
        &manifest_dir().join("config"),
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn prod_toml_loads_and_routes_alerts_to_the_team() {
    let loaded = load(
        Loader::new(NAME)
            .dir(manifest_dir().join("config"))
            .environment("prod"),
    );
    assert_eq!(loaded.kit.service.team, "greeters");
    assert_eq!(loaded.kit.grpc.listen.port(), 50052);
}

#[test]
fn compiled_in_defaults_listen_on_the_documented_loopback_ports() {
    let config = Config::<Settings>::default();
    assert_eq!(config.kit.grpc.listen.to_string(), "127.0.0.1:50052");
    assert_eq!(config.kit.admin.listen.to_string(), "127.0.0.1:8082");
}

#[test]
fn proto_is_a_copy_of_the_shared_one() {
    let own = std::fs::read_to_string(manifest_dir().join("proto/hello.proto")).unwrap();
    let shared = std::fs::read_to_string(manifest_dir().join("../proto/hello.proto")).unwrap();
    assert_eq!(
        own, shared,
        "examples/profile-service/proto/hello.proto drifted from examples/proto/hello.proto"
    );
}

fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_profile-service"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("APP_ENV")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn print_config_explains_the_configuration_and_exits_zero() {
    let (ok, text, stderr) = run(
        &["--print-config"],
        &[("PROFILE_SERVICE__SERVICE__TEAM", "greeters")],
    );
    assert!(ok, "{stderr}");
    assert!(text.contains("team = \"greeters\""), "{text}");
    assert!(
        text.contains("env PROFILE_SERVICE__SERVICE__TEAM"),
        "{text}"
    );
    assert!(text.contains("listen = \"127.0.0.1:50052\""), "{text}");
}

#[test]
fn print_default_config_is_every_key_documented_and_loads_back_to_the_defaults() {
    let (ok, text, stderr) = run(&["--print-default-config"], &[]);
    assert!(ok, "{stderr}");
    assert!(
        text.contains("[grpc.server]"),
        "the kit's sections:\n{text}"
    );
    assert!(
        text.contains("# The profile table"),
        "own keys, documented:\n{text}"
    );
    let dir = tempfile_dir();
    let file = dir.join("reference.toml");
    std::fs::write(&file, &text).unwrap();
    let loaded = load(
        Loader::new(NAME)
            .dir(manifest_dir().join("no-such-dir"))
            .args(["--config".to_owned(), file.display().to_string()]),
    );
    let differ = differences(loaded.get(), &defaults());
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

/// A fresh directory under the target dir (no extra test dependency).
fn tempfile_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("profile-service-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
