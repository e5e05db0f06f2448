//! The alert rules, Alertmanager route and runbook generated from
//! hello-service's configuration, in every environment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the binary in the package directory (so `config/` and `runbook.md`
/// are found) with `APP_ENV=env`.
fn run(env: &str, flag: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hello-service"))
        .arg(flag)
        .env("APP_ENV", env)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{flag} (APP_ENV={env}): {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn promtool() -> PathBuf {
    std::env::var_os("PROMTOOL")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join("promtool"))
                    .find(|candidate| candidate.is_file())
            })
        })
        .expect(
            "promtool not found: install Debian's `prometheus` package (apt-get install \
             prometheus) or set PROMTOOL=/path/to/promtool",
        )
}

fn check_rules(rules: &str, dir: &Path) {
    std::fs::write(dir.join("rules.yml"), rules).unwrap();
    let out = Command::new(promtool())
        .args(["check", "rules", "rules.yml"])
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("SUCCESS"),
        "{text}\n{rules}"
    );
}

#[test]
#[ignore = "needs promtool"]
fn promtool_check_rules_passes_on_the_generated_rules_of_every_environment() {
    let dir = tempfile::tempdir().unwrap();
    for env in ["dev", "prod"] {
        check_rules(&run(env, "--print-alert-rules"), dir.path());
    }
}

/// The anchors of the `runbook_url`s in `rules`.
fn anchors(rules: &str) -> Vec<String> {
    rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix("runbook_url: \""))
        .filter_map(|url| url.trim_end_matches('"').split_once('#'))
        .map(|(_, anchor)| anchor.to_owned())
        .collect()
}

#[test]
fn every_alert_links_to_its_own_section_of_the_runbook() {
    for env in ["dev", "prod"] {
        let rules = run(env, "--print-alert-rules");
        let runbook = run(env, "--print-runbook");
        let anchors = anchors(&rules);
        assert!(anchors.len() >= 16, "{rules}");
        for anchor in anchors {
            assert!(
                runbook.contains(&format!("<a id=\"{anchor}\"></a>")),
                "APP_ENV={env}: no section #{anchor} in the runbook:\n{runbook}"
            );
        }
    }
    let prod = run("prod", "--print-alert-rules");
    assert!(
        prod.contains(
            "runbook_url: \"https://runbooks.example.com/hello-service#latencyfastburn\""
        ),
        "{prod}"
    );
    assert!(prod.contains("team: \"greeters\""), "{prod}");
    assert!(
        prod.contains("rpc_method: \"hello.v1.Greeter/SayHello\""),
        "{prod}"
    );
}

#[test]
fn the_runbook_lists_the_switches_and_merges_the_teams_notes() {
    let runbook = run("prod", "--print-runbook");
    assert!(
        runbook.contains("curl -sS -X PUT http://127.0.0.1:8081/flags/profiles_upstream"),
        "{runbook}"
    );
    assert!(
        runbook.contains("To **greeters**, on-call greeters-primary"),
        "{runbook}"
    );
    let section = runbook
        .split("<a id=\"latencyfastburn\"></a>")
        .nth(1)
        .and_then(|rest| rest.split("<a id=").next())
        .unwrap();
    assert!(section.contains("**From the team:**"), "{section}");
    assert!(
        section.contains("turn `profiles_upstream` off"),
        "{section}"
    );
}

#[test]
fn the_alertmanager_route_routes_the_teams_alerts() {
    let route = run("prod", "--print-alertmanager-route");
    assert!(
        route.contains(r#"matchers: ["team=\"greeters\""]"#),
        "{route}"
    );
    assert!(route.contains(r#"- name: "greeters-page""#), "{route}");
}

#[test]
fn the_test_time_scale_shortens_the_generated_rules_and_bad_factors_are_refused() {
    let run_with = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hello-service"))
            .args(args)
            .env("APP_ENV", "dev")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    };
    let scaled = run_with(&["--print-alert-rules", "--slo-time-scale", "1/20"]);
    assert!(scaled.status.success(), "{scaled:?}");
    let scaled = String::from_utf8(scaled.stdout).unwrap();
    assert!(
        scaled.contains("# TEST ONLY: every window and `for` is scaled by 0.05."),
        "{scaled}"
    );
    assert!(scaled.contains("    interval: 3s\n"), "{scaled}");
    // The 1h window is 3m; the names stay.
    assert!(
        scaled.contains("record: \"slo:sli_error:ratio_rate1h\""),
        "{scaled}"
    );
    assert!(scaled.contains("[3m]"), "{scaled}");
    let same = run_with(&["--print-alert-rules", "--slo-time-scale=0.05"]);
    assert_eq!(String::from_utf8(same.stdout).unwrap(), scaled);
    let production = run("dev", "--print-alert-rules");
    assert!(
        !production.contains("TEST ONLY") && !production.contains("interval:"),
        "{production}"
    );

    for (args, says) in [
        (
            &["--print-alert-rules", "--slo-time-scale", "20"][..],
            "out of range",
        ),
        (
            &["--print-alert-rules", "--slo-time-scale", "fast"][..],
            "is not a number",
        ),
        (
            &["--print-alert-rules", "--slo-time-scale"][..],
            "needs a factor",
        ),
        (
            &["--print-runbook", "--slo-time-scale", "0.5"][..],
            "give both, or neither",
        ),
    ] {
        let out = run_with(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("--slo-time-scale") && stderr.contains(says),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn generating_alerts_without_a_team_warns_that_nobody_is_paged_by_name() {
    let stderr_of = |env: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_hello-service"))
            .arg("--print-alertmanager-route")
            .env("APP_ENV", env)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stderr).unwrap()
    };
    // dev sets no service.team; prod does.
    let dev = stderr_of("dev");
    assert!(
        dev.contains("warning: service.team is not set")
            && dev.contains("HELLO_SERVICE__SERVICE__TEAM"),
        "{dev}"
    );
    assert!(!stderr_of("prod").contains("warning"));
}
