//! The real `promtool`, for tests that check what the kit exposes and
//! generates: `check metrics` on a scrape, `check rules` on alert rules.
//!
//! Tests that use it are `#[ignore = "needs promtool"]`; CI installs it
//! (Debian's `prometheus` package, `.ci/install-test-programs`). Not found
//! is a failure with the install hint, never a skip.
//!
//! ```no_run
//! let scrape = "# TYPE up gauge\nup 1\n";
//! if let Err(findings) = boost_test_promtool::check_metrics(scrape) {
//!     panic!("promtool check metrics: {findings}");
//! }
//! ```
// A test helper: an I/O failure here is a broken test setup.
#![allow(clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `promtool` binary: `$PROMTOOL`, else the first on `PATH`.
///
/// # Panics
///
/// When there is none, with how to install it.
pub fn promtool() -> PathBuf {
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

/// `promtool check metrics` on `exposition` (a scrape): `Err` with its
/// findings if it failed or found anything (lint warnings included).
pub fn check_metrics(exposition: &str) -> Result<(), String> {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(exposition.as_bytes())
        .expect("the scrape written to promtool");
    let output = child.wait_with_output().expect("promtool ends");
    let findings = text(&output);
    if output.status.success() && findings.trim().is_empty() {
        Ok(())
    } else {
        Err(findings)
    }
}

/// `promtool check rules` on `yaml`: its report, or `Err` with it when the
/// rules are not valid.
pub fn check_rules(yaml: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("rules.yml"), yaml).expect("rules.yml written");
    let report = run(&["check", "rules", "rules.yml"], dir.path())?;
    if report.contains("SUCCESS") {
        Ok(report)
    } else {
        Err(report)
    }
}

/// `promtool <args>` in `dir`: its output, or `Err` with it when it failed.
pub fn run(args: &[&str], dir: &Path) -> Result<String, String> {
    let output = Command::new(promtool())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool runs");
    let report = text(&output);
    if output.status.success() {
        Ok(report)
    } else {
        Err(report)
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
