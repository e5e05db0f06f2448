//! The alert rules, Alertmanager route and runbook generated from
//! profile-service's configuration, in every environment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the binary in the package directory (so `config/` is found) with `APP_ENV=env`.
fn run(env: &str, flag: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_profile-service"))
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
    assert!(prod.contains("team: \"greeters\""), "{prod}");
}
