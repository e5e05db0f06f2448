//! The shipped configuration files stay true: `config/default.toml` is the
//! compiled-in defaults, key for key; `config/prod.toml` loads; the proto is
//! the shared one; `--print-config` works.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use boost::config::Loader;
use profile_service::settings::{SERVICE_NAME, Settings};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn no_env() -> [(&'static str, &'static str); 0] {
    []
}

/// Every key path of a TOML table (tables themselves excluded).
fn paths(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => paths(inner, &path, out),
            _ => {
                out.insert(path);
            }
        }
    }
}

#[test]
fn default_toml_is_exactly_the_compiled_in_defaults() {
    let file: PathBuf = manifest_dir().join("config/default.toml");
    let loaded = Loader::new(SERVICE_NAME)
        .version(env!("CARGO_PKG_VERSION"))
        .dir(manifest_dir().join("no-such-dir"))
        .env_vars(no_env())
        .args(["--config".to_owned(), file.display().to_string()])
        .load::<Settings>()
        .unwrap();
    assert_eq!(*loaded, Settings::default());
}

#[test]
fn default_toml_lists_every_key() {
    let text = std::fs::read_to_string(manifest_dir().join("config/default.toml")).unwrap();
    let mut in_file = BTreeSet::new();
    paths(&toml::from_str(&text).unwrap(), "", &mut in_file);
    let mut in_code = BTreeSet::new();
    paths(
        &toml::Table::try_from(Settings::default()).unwrap(),
        "",
        &mut in_code,
    );
    // Filled in by the binary itself, from its name, version and APP_ENV.
    for key in ["service.name", "service.version", "service.environment"] {
        in_code.remove(key);
    }
    let missing: Vec<_> = in_code.difference(&in_file).collect();
    let unknown: Vec<_> = in_file.difference(&in_code).collect();
    assert!(
        missing.is_empty(),
        "keys missing from config/default.toml: {missing:?}"
    );
    assert!(
        unknown.is_empty(),
        "keys in config/default.toml the code does not know: {unknown:?}"
    );
}

#[test]
fn prod_toml_loads_and_routes_alerts_to_the_team() {
    let loaded = Loader::new(SERVICE_NAME)
        .dir(manifest_dir().join("config"))
        .environment("prod")
        .env_vars(no_env())
        .load::<Settings>()
        .unwrap();
    assert_eq!(loaded.service.team, "greeters");
    assert_eq!(loaded.grpc.listen.port(), 50052);
}

#[test]
fn compiled_in_defaults_listen_on_the_documented_loopback_ports() {
    let settings = Settings::default();
    assert_eq!(settings.grpc.listen.to_string(), "127.0.0.1:50052");
    assert_eq!(settings.admin.listen.to_string(), "127.0.0.1:8082");
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

#[test]
fn print_config_explains_the_configuration_and_exits_zero() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_profile-service"))
        .arg("--print-config")
        .env("PROFILE_SERVICE__SERVICE__TEAM", "greeters")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("team = \"greeters\""), "{text}");
    assert!(
        text.contains("env PROFILE_SERVICE__SERVICE__TEAM"),
        "{text}"
    );
    assert!(text.contains("listen = \"127.0.0.1:50052\""), "{text}");
}
