//! The shipped configuration files stay true: `config/default.toml` holds only
//! hello-service's own keys, at their compiled-in defaults; every environment
//! file loads; the proto is the shared one; the command line works.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use boost::config::Loader;
use boost::service::Config;
use hello_service::settings::Settings;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
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
fn prod_toml_routes_alerts_to_the_team_and_discovers_profile_service_by_dns() {
    let loaded = Loader::new(env!("CARGO_PKG_NAME"))
        .dir(manifest_dir().join("config"))
        .environment("prod")
        .env_vars([("APP_ENV", "")])
        .load::<Config<Settings>>()
        .unwrap();
    let service = &loaded.kit.service;
    assert!(
        !["", "unknown"].contains(&service.team.as_str()),
        "config/prod.toml must set service.team, got {:?}",
        service.team
    );
    assert!(!service.runbook_url.is_empty());
    assert_eq!(service.environment, "prod");
    assert!(loaded.profiles.dns.is_some());
}

#[test]
fn env_override_of_one_key_keeps_the_other_defaults_of_its_section() {
    let loaded = Loader::new(env!("CARGO_PKG_NAME"))
        .dir(manifest_dir().join("config"))
        .environment("test")
        .env_vars([
            ("HELLO_SERVICE__PROFILES__TIMEOUT", "1s"),
            (
                "HELLO_SERVICE__PROFILES__ENDPOINTS",
                "http://127.0.0.1:7001,http://127.0.0.1:7002",
            ),
        ])
        .load::<Config<Settings>>()
        .unwrap();
    assert_eq!(loaded.profiles.timeout, std::time::Duration::from_secs(1));
    assert_eq!(
        loaded.profiles.endpoints,
        ["http://127.0.0.1:7001", "http://127.0.0.1:7002"]
    );
    assert_eq!(
        loaded.profiles.retry.idempotent_methods,
        ["hello.v1.Profiles/GetProfile"]
    );
}

#[test]
fn the_profiles_tape_is_switched_by_environment_and_validated_under_its_key() {
    let load = |vars: &[(&str, &str)]| {
        Loader::new(env!("CARGO_PKG_NAME"))
            .dir(manifest_dir().join("config"))
            .environment("test")
            .env_vars(vars.iter().copied())
            .load::<Config<Settings>>()
    };
    let loaded = load(&[
        ("HELLO_SERVICE__PROFILES__TAPE__MODE", "replay_or_record"),
        ("HELLO_SERVICE__PROFILES__TAPE__PATH", "tests/tapes/x.json"),
        (
            "HELLO_SERVICE__PROFILES__TAPE__SECRET_HEADERS",
            "x-partner-key,x-other",
        ),
    ])
    .unwrap();
    let tape = &loaded.profiles.tape;
    assert_eq!(tape.mode, boost::rpc::client::TapeMode::ReplayOrRecord);
    assert_eq!(tape.path.as_deref(), Some(Path::new("tests/tapes/x.json")));
    assert_eq!(tape.secret_headers, ["x-partner-key", "x-other"]);
    assert_eq!(
        load(&[]).unwrap().profiles.tape.mode,
        boost::rpc::client::TapeMode::Off,
        "off unless asked"
    );

    let error = load(&[("HELLO_SERVICE__PROFILES__TAPE__MODE", "replay")])
        .unwrap_err()
        .to_string();
    assert!(error.contains("profiles.tape.path"), "{error}");
    assert!(error.contains("must be set when mode is not"), "{error}");
    let error = load(&[("HELLO_SERVICE__PROFILES__TAPE__MODE", "replay_only")])
        .unwrap_err()
        .to_string();
    assert!(error.contains("profiles.tape.mode"), "{error}");
}

#[test]
fn proto_is_a_copy_of_the_shared_one() {
    let own = std::fs::read_to_string(manifest_dir().join("proto/hello.proto")).unwrap();
    let shared = std::fs::read_to_string(manifest_dir().join("../proto/hello.proto")).unwrap();
    assert_eq!(
        own, shared,
        "examples/hello-service/proto/hello.proto drifted from examples/proto/hello.proto"
    );
}

fn run(args: &[&str], env: &[(&str, &str)]) -> (std::process::ExitStatus, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hello-service"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("APP_ENV")
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn print_config_explains_the_configuration_and_exits_zero() {
    let (status, text, stderr) = run(
        &["--print-config"],
        &[("HELLO_SERVICE__SERVICE__TEAM", "greeters")],
    );
    assert!(status.success(), "{stderr}");
    assert!(text.contains("team = \"greeters\""), "{text}");
    assert!(text.contains("env HELLO_SERVICE__SERVICE__TEAM"), "{text}");
    assert!(
        text.contains("endpoints = [\"http://127.0.0.1:50052\"]"),
        "{text}"
    );
}

#[test]
fn print_default_config_documents_the_kits_keys_and_the_services_own() {
    let (status, text, stderr) = run(&["--print-default-config"], &[]);
    assert!(status.success(), "{stderr}");
    for expected in [
        "[grpc.server]",
        "request_timeout",
        "[profiles.retry]",
        "# Time kept back from the caller's deadline",
        "deadline_reserve = \"20ms\"",
    ] {
        assert!(text.contains(expected), "missing {expected:?}:\n{text}");
    }
    assert!(text.parse::<toml::Table>().is_ok(), "valid TOML:\n{text}");
}

#[test]
fn a_mistyped_flag_is_an_error_not_ignored() {
    let (status, _, stderr) = run(&["--prnt-config"], &[]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unknown argument \"--prnt-config\""),
        "{stderr}"
    );
    assert!(stderr.contains("--print-config"), "{stderr}");
}

#[test]
fn a_failed_start_prints_the_message_not_a_debug_dump() {
    // The admin port is taken by a listener of the test's own.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (status, _, stderr) = run(
        &[],
        &[
            ("HELLO_SERVICE__ADMIN__LISTEN", addr.as_str()),
            ("HELLO_SERVICE__GRPC__LISTEN", "127.0.0.1:0"),
            ("HELLO_SERVICE__TRACING__FORMAT", "json"),
        ],
    );
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("hello-service: admin server cannot listen on admin.listen"),
        "{stderr}"
    );
    assert!(stderr.contains("HELLO_SERVICE__ADMIN__LISTEN"), "{stderr}");
    assert!(!stderr.contains("AdminBind {"), "a Debug dump:\n{stderr}");
}
