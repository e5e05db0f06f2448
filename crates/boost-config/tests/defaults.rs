//! Layer 1 is the settings type's own `T::default()`: a layer that names one
//! key of a section keeps every other key of that section at `T::default()`,
//! even where the section type's own `Default` says something else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use boost_config::{ConfigError, Loaded, Loader, MASK, ProblemKind, Secret, Source, Validate};
use serde::{Deserialize, Serialize};
use url::Url;

/// A service whose `Default` differs from its sections' own defaults, the way
/// profile-service listens on 50052 while `Grpc::default()` says 50051.
#[derive(Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    grpc: Grpc,
    profiles: Profiles,
    db: Db,
    /// A map: a layer that names it replaces the default entries.
    languages: BTreeMap<String, String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            grpc: Grpc {
                listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 50052)),
                ..Grpc::default()
            },
            profiles: Profiles {
                endpoints: vec![Url::parse("http://127.0.0.1:50052").unwrap()],
                ..Profiles::default()
            },
            db: Db {
                password: Secret::new("outer-default".to_owned()),
                ..Db::default()
            },
            languages: [("alice", "en"), ("bob", "fr")]
                .into_iter()
                .map(|(name, language)| (name.to_owned(), language.to_owned()))
                .collect(),
        }
    }
}

impl Validate for Settings {
    fn validate(&self, _: &mut boost_config::Problems) {}
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct Grpc {
    listen: SocketAddr,
    reflection: bool,
    /// Written out by `explain`, never read back.
    #[serde(skip_deserializing)]
    generation: u32,
}

impl Default for Grpc {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 50051)),
            reflection: true,
            generation: 7,
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct Profiles {
    endpoints: Vec<Url>,
    #[serde(with = "boost_config::duration")]
    timeout: Duration,
}

impl Default for Profiles {
    fn default() -> Self {
        Self {
            endpoints: Vec::new(),
            timeout: Duration::from_millis(300),
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct Db {
    password: Secret<String>,
    pool_size: u32,
}

fn loader(dir: &Path, vars: &[(&str, &str)]) -> Loader {
    Loader::new("hello-service")
        .dir(dir)
        .env_vars(vars.iter().map(|(k, v)| (*k, *v)))
}

fn load(loader: &Loader) -> Loaded<Settings> {
    match loader.load::<Settings>() {
        Ok(loaded) => loaded,
        Err(error) => panic!("expected the configuration to load, got:\n{error}"),
    }
}

fn outer_endpoints() -> Vec<Url> {
    vec![Url::parse("http://127.0.0.1:50052").unwrap()]
}

/// The `explain` line of `key` inside `[section]`.
fn explain_line(config: &Loaded<Settings>, section: &str, key: &str) -> String {
    let text = config.explain();
    let body = text
        .split(&format!("[{section}]\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no [{section}] in:\n{text}"));
    body.lines()
        .find(|line| line.starts_with(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no {section}.{key} in:\n{text}"))
        .to_owned()
}

#[test]
fn outer_default_survives_an_env_var_setting_a_sibling_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = load(&loader(
        dir.path(),
        &[
            ("HELLO_SERVICE__PROFILES__TIMEOUT", "1s"),
            ("HELLO_SERVICE__GRPC__REFLECTION", "false"),
        ],
    ));
    assert_eq!(config.profiles.timeout, Duration::from_secs(1));
    assert_eq!(config.profiles.endpoints, outer_endpoints());
    assert!(!config.grpc.reflection);
    assert_eq!(config.grpc.listen.port(), 50052);
    assert_eq!(config.source_of("profiles.endpoints"), Source::Default);
    assert_eq!(
        config.source_of("profiles.timeout"),
        Source::Env("HELLO_SERVICE__PROFILES__TIMEOUT".to_owned())
    );
}

#[test]
fn outer_default_survives_a_file_setting_a_sibling_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("default.toml");
    std::fs::write(
        &file,
        "[profiles]\ntimeout = \"1s\"\n\n[grpc]\nreflection = false\n",
    )
    .unwrap();
    let config = load(&loader(dir.path(), &[]));
    assert_eq!(config.profiles.timeout, Duration::from_secs(1));
    assert_eq!(config.profiles.endpoints, outer_endpoints());
    assert_eq!(config.grpc.listen.port(), 50052);
    assert_eq!(config.source_of("grpc.listen"), Source::Default);
    assert_eq!(config.source_of("grpc.reflection"), Source::File(file));
}

#[test]
fn outer_default_survives_a_set_argument_naming_a_sibling_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = load(&loader(dir.path(), &[]).args([
        "--set",
        "grpc.reflection=false",
        "--set",
        "profiles.timeout=2s",
    ]));
    assert!(!config.grpc.reflection);
    assert_eq!(config.grpc.listen.port(), 50052);
    assert_eq!(config.profiles.timeout, Duration::from_secs(2));
    assert_eq!(config.profiles.endpoints, outer_endpoints());
    assert_eq!(config.source_of("grpc.listen"), Source::Default);
    assert_eq!(config.source_of("grpc.reflection"), Source::Set);
}

#[test]
fn explain_labels_kept_defaults_default_and_overrides_by_their_layer() {
    let dir = tempfile::tempdir().unwrap();
    let config = load(
        &loader(dir.path(), &[("HELLO_SERVICE__PROFILES__TIMEOUT", "1s")])
            .args(["--set", "grpc.reflection=false"]),
    );
    let endpoints = explain_line(&config, "profiles", "endpoints");
    assert!(endpoints.contains("http://127.0.0.1:50052/"), "{endpoints}");
    assert!(endpoints.ends_with("# default"), "{endpoints}");
    let timeout = explain_line(&config, "profiles", "timeout");
    assert!(
        timeout.ends_with("# env HELLO_SERVICE__PROFILES__TIMEOUT"),
        "{timeout}"
    );
    let listen = explain_line(&config, "grpc", "listen");
    assert!(listen.contains("127.0.0.1:50052"), "{listen}");
    assert!(listen.ends_with("# default"), "{listen}");
    let reflection = explain_line(&config, "grpc", "reflection");
    assert!(reflection.ends_with("# --set"), "{reflection}");
}

#[test]
fn a_default_secret_never_becomes_the_mask_text() {
    let dir = tempfile::tempdir().unwrap();
    // Section untouched: the secret is exactly `T::default()`'s.
    let config = load(&loader(dir.path(), &[]));
    assert_eq!(config.db.password.expose(), "outer-default");

    // Section touched: the masked default is not seeded, so the secret is
    // never the literal mask (it falls back to `Db::default()`).
    let config = load(&loader(
        dir.path(),
        &[("HELLO_SERVICE__DB__POOL_SIZE", "3")],
    ));
    assert_eq!(config.db.pool_size, 3);
    assert_ne!(config.db.password.expose(), MASK);
    assert!(config.db.password.expose().is_empty());

    // And a secret a layer sets is still read.
    let config = load(&loader(
        dir.path(),
        &[("HELLO_SERVICE__DB__PASSWORD", "from-env")],
    ));
    assert_eq!(config.db.password.expose(), "from-env");
}

#[test]
fn an_env_list_replaces_the_default_list_whole() {
    let dir = tempfile::tempdir().unwrap();
    let config = load(&loader(
        dir.path(),
        &[(
            "HELLO_SERVICE__PROFILES__ENDPOINTS",
            "http://10.0.0.1:1, http://10.0.0.2:2",
        )],
    ));
    let hosts: Vec<_> = config
        .profiles
        .endpoints
        .iter()
        .map(|url| url.host_str().unwrap().to_owned())
        .collect();
    assert_eq!(hosts, ["10.0.0.1", "10.0.0.2"]);
}

#[test]
fn unknown_key_beside_seeded_defaults_is_still_reported() {
    let dir = tempfile::tempdir().unwrap();
    let error = loader(dir.path(), &[("HELLO_SERVICE__PROFILES__TIMEOT", "1s")])
        .load::<Settings>()
        .unwrap_err();
    let ConfigError::Invalid { problems, .. } = &error else {
        panic!("expected an invalid configuration, got {error}");
    };
    assert_eq!(problems.len(), 1, "{error}");
    assert_eq!(problems[0].key, "profiles.timeot");
    assert!(
        matches!(&problems[0].kind, ProblemKind::UnknownKey { suggestion: Some(s) } if s == "profiles.timeout"),
        "{error}"
    );
}

#[test]
fn a_default_the_type_does_not_read_back_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // `grpc.generation` is serialised but `skip_deserializing`: seeding it
    // into a touched section must not be reported as an unknown key.
    let config = load(&loader(
        dir.path(),
        &[("HELLO_SERVICE__GRPC__REFLECTION", "false")],
    ));
    assert!(!config.grpc.reflection);
    assert_eq!(config.grpc.listen.port(), 50052);
}

#[test]
fn a_map_a_layer_names_replaces_the_default_map() {
    let dir = tempfile::tempdir().unwrap();
    let config = load(&loader(dir.path(), &[]));
    assert_eq!(config.languages.len(), 2, "untouched: the default entries");

    std::fs::write(
        dir.path().join("default.toml"),
        "[languages]\ncarmen = \"es\"\n",
    )
    .unwrap();
    let config = load(&loader(
        dir.path(),
        &[("HELLO_SERVICE__LANGUAGES__DIETER", "de")],
    ));
    let names: Vec<&str> = config.languages.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["carmen", "dieter"],
        "layers merge with each other only"
    );
}
