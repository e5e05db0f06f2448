//! A bad configuration stops the service before it starts: exit code ≠ 0 and
//! a one-screen error naming the key and where it came from — no panic, no
//! backtrace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Example, Launch, workspace_root};

/// What every configuration error must look like on the terminal.
fn assert_clean_failure(status: std::process::ExitStatus, stderr: &str) {
    assert!(
        !status.success(),
        "a bad configuration must fail; stderr:\n{stderr}"
    );
    assert_eq!(
        status.code(),
        Some(2),
        "a configuration error exits 2 (101 would be a panic); stderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "no panic:\n{stderr}");
    assert!(
        !stderr.to_lowercase().contains("backtrace"),
        "no backtrace:\n{stderr}"
    );
    assert!(
        stderr.lines().count() <= 24,
        "fits on one screen:\n{stderr}"
    );
}

#[test]
fn typo_in_an_env_override_names_the_variable_and_suggests_the_key() {
    let (status, stdout, stderr) = Launch::new(Example::Hello)
        .set("GRPC__LISTN", "127.0.0.1:6000")
        .run_to_exit();
    assert_clean_failure(status, &stderr);
    assert!(stderr.contains("grpc.listn"), "names the key:\n{stderr}");
    assert!(
        stderr.contains("HELLO_SERVICE__GRPC__LISTN"),
        "names the source:\n{stderr}"
    );
    assert!(
        stderr.contains("grpc.listen"),
        "suggests the right key:\n{stderr}"
    );
    assert!(!stdout.contains("listening"), "never started:\n{stdout}");
}

#[test]
fn wrong_type_in_a_config_file_names_the_key_and_the_file() {
    let file = workspace_root().join("tests/data/wrong_type.toml");
    let (status, stdout, stderr) = Launch::new(Example::Hello)
        .arg("--config")
        .arg(file.to_string_lossy())
        .run_to_exit();
    assert_clean_failure(status, &stderr);
    assert!(
        stderr.contains("profiles.timeout"),
        "names the key:\n{stderr}"
    );
    assert!(
        stderr.contains("wrong_type.toml"),
        "names the file:\n{stderr}"
    );
    assert!(!stdout.contains("listening"), "never started:\n{stdout}");
}

#[test]
fn invalid_value_in_env_names_key_and_variable_for_profile_service_too() {
    let (status, _, stderr) = Launch::new(Example::Profile)
        .set("ADMIN__LISTEN", "not-an-address")
        .run_to_exit();
    assert_clean_failure(status, &stderr);
    assert!(stderr.contains("admin.listen"), "names the key:\n{stderr}");
    assert!(
        stderr.contains("PROFILE_SERVICE__ADMIN__LISTEN"),
        "names the source:\n{stderr}"
    );
}

#[test]
fn print_config_explains_every_section_and_exits_zero() {
    let (status, stdout, stderr) = Launch::new(Example::Hello)
        .set("PROFILES__TIMEOUT", "250ms")
        .arg("--print-config")
        .run_to_exit();
    assert!(
        status.success(),
        "--print-config exits 0; stderr:\n{stderr}"
    );
    for section in [
        "[service]",
        "[grpc]",
        "[admin]",
        "[profiles]",
        "[profile_cache]",
        "[lifecycle]",
    ] {
        assert!(stdout.contains(section), "{section} missing:\n{stdout}");
    }
    assert!(stdout.contains("250ms"), "{stdout}");
    assert!(
        stdout.contains("HELLO_SERVICE__PROFILES__TIMEOUT"),
        "provenance shown:\n{stdout}"
    );
}

#[test]
fn a_bad_kit_setting_in_a_file_is_refused_at_start_naming_key_file_and_line() {
    let file = workspace_root().join("tests/data/zero_request_timeout.toml");
    for example in [Example::Hello, Example::Profile] {
        let (status, stdout, stderr) = Launch::new(example)
            .arg("--config")
            .arg(file.to_string_lossy())
            .run_to_exit();
        assert_clean_failure(status, &stderr);
        assert!(
            stderr.contains("grpc.server.request_timeout"),
            "names the key:\n{stderr}"
        );
        assert!(
            stderr.contains("zero_request_timeout.toml:3"),
            "names the file and line:\n{stderr}"
        );
        assert!(!stdout.contains("listening"), "never started:\n{stdout}");
    }
}

#[test]
fn bad_client_settings_in_env_vars_are_all_refused_at_start_naming_keys_and_variables() {
    let (status, stdout, stderr) = Launch::new(Example::Hello)
        .set("PROFILES__RETRY__MAX_ATTEMPTS", "0")
        .set("PROFILES__EJECTION__SUCCESS_RATE", "80")
        .run_to_exit();
    assert_clean_failure(status, &stderr);
    for expected in [
        "profiles.retry.max_attempts",
        "HELLO_SERVICE__PROFILES__RETRY__MAX_ATTEMPTS",
        "profiles.ejection.success_rate",
        "HELLO_SERVICE__PROFILES__EJECTION__SUCCESS_RATE",
        "2 problems",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?}:\n{stderr}");
    }
    assert!(!stdout.contains("listening"), "never started:\n{stdout}");
}
