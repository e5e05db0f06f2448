//! `promtool check metrics` on a realistic scrape finds nothing to complain about.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

fn promtool() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PROMTOOL")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join("promtool"))
                    .find(|candidate| candidate.is_file())
            })
        })?;
    Some(path)
}

#[test]
#[ignore = "needs promtool"]
fn promtool_check_metrics_finds_nothing_in_a_realistic_scrape() {
    let promtool = promtool().expect(
        "promtool not found: install Debian's `prometheus` package (apt-get install prometheus) \
         or set PROMTOOL=/path/to/promtool",
    );
    let scrape = common::realistic_scrape();

    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && findings.trim().is_empty(),
        "promtool check metrics reported findings:\n{findings}\n--- scrape ---\n{scrape}"
    );
}
