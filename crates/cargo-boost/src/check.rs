//! `cargo boost check`, run in a service repository: the kit version it is
//! on, whether its config validates for every environment's file, and what
//! the kit's next release changes (from the kit's CHANGELOG).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Error, report};

/// The kit CHANGELOG this binary was built with, when the service's kit is
/// not a checkout on disk.
const KIT_CHANGELOG: &str = include_str!(concat!(env!("OUT_DIR"), "/kit-changelog.md"));

/// Runs the three checks in `dir`; `Ok(false)` when a config file fails.
pub fn check(dir: &Path) -> Result<bool, Error> {
    let read = |file: &str| {
        std::fs::read_to_string(dir.join(file)).map_err(|source| Error::Write {
            path: dir.join(file).display().to_string(),
            source,
        })
    };
    let manifest = read("Cargo.toml")?;
    let lock = read("Cargo.lock").unwrap_or_default();
    let version = locked_version(&lock, "boost")
        .unwrap_or_else(|| "unknown (no Cargo.lock entry for boost; run cargo build)".to_owned());
    report(&format!("kit: boost {version}"));

    let mut ok = true;
    let mut environments: Vec<String> = std::fs::read_dir(dir.join("config"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| n.strip_suffix(".toml").map(str::to_owned))
                .filter(|n| n != "local")
                .collect()
        })
        .unwrap_or_default();
    environments.sort();
    for environment in &environments {
        let app_env = if environment == "default" {
            ""
        } else {
            environment
        };
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
            .args(["run", "-q", "--", "--print-config"])
            .current_dir(dir)
            .env("APP_ENV", app_env)
            .output();
        match out {
            Ok(out) if out.status.success() => report(&format!("config/{environment}.toml: ok")),
            Ok(out) => {
                ok = false;
                report(&format!(
                    "config/{environment}.toml: INVALID\n{}",
                    String::from_utf8_lossy(&out.stderr).trim_end()
                ));
            }
            Err(error) => {
                ok = false;
                report(&format!(
                    "config/{environment}.toml: cannot run cargo: {error}"
                ));
            }
        }
    }

    let changelog = kit_changelog(dir, &manifest);
    let newer = newer_sections(&changelog, &version);
    if newer.is_empty() {
        report("next kit release: nothing listed after your version in the kit's CHANGELOG");
    } else {
        report("next kit release changes (kit CHANGELOG; UPGRADING.md has the code):");
        for line in newer {
            report(&format!("  {line}"));
        }
    }
    Ok(ok)
}

/// The version of `name` in a Cargo.lock.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{name}\"") {
            let next = lines.next()?;
            return next
                .trim()
                .strip_prefix("version = \"")
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_owned);
        }
    }
    None
}

/// The CHANGELOG of the kit checkout a `path` dependency points at, else the embedded one.
fn kit_changelog(dir: &Path, manifest: &str) -> String {
    let path = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("boost ="))
        .and_then(|l| l.split("path = \"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .map(|p| dir.join(p).join("../../CHANGELOG.md"));
    path.and_then(|p: PathBuf| std::fs::read_to_string(p).ok())
        .unwrap_or_else(|| KIT_CHANGELOG.to_owned())
}

/// The `##` release headings and `###` change headings newer than `version`
/// (the `Unreleased` section always counts). A release section with no
/// change in it (the empty `## [Unreleased]` right after a release) is left
/// out; one with bullets but no `###` headings is listed with their count.
/// The link references at the bottom (`[0.2.0]: https://…`) are not headings.
fn newer_sections(changelog: &str, version: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut section: Option<(String, Vec<String>, usize)> = None;
    let flush = |out: &mut Vec<String>, section: Option<(String, Vec<String>, usize)>| {
        if let Some((heading, changes, bullets)) = section {
            if !changes.is_empty() {
                out.push(heading);
                out.extend(changes);
            } else if bullets > 0 {
                out.push(heading);
                out.push(format!("  {bullets} change(s); see the CHANGELOG"));
            }
        }
    };
    for line in changelog.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            flush(&mut out, section.take());
            let released = heading
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default();
            if released == "Unreleased" || newer(released, version) {
                section = Some((heading.to_owned(), Vec::new(), 0));
            }
        } else if let Some((_, changes, bullets)) = section.as_mut() {
            if let Some(change) = line.strip_prefix("### ") {
                changes.push(format!("  {change}"));
            } else if line.starts_with("- ") {
                *bullets += 1;
            }
        }
    }
    flush(&mut out, section);
    out
}

fn newer(candidate: &str, current: &str) -> bool {
    let parse = |v: &str| -> Option<Vec<u64>> { v.split('.').map(|p| p.parse().ok()).collect() };
    match (parse(candidate), parse(current)) {
        (Some(a), Some(b)) => a > b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_releases_after_the_version_in_use_are_listed() {
        let log = "# Changelog\n## [Unreleased]\n### Changed: x\n## [0.2.0]\n### Added: y\n## [0.1.0]\n### Added: z\n";
        let newer = newer_sections(log, "0.1.0");
        assert_eq!(
            newer,
            ["[Unreleased]", "  Changed: x", "[0.2.0]", "  Added: y"]
        );
        assert_eq!(
            newer_sections(log, "0.2.0"),
            ["[Unreleased]", "  Changed: x"]
        );
    }

    #[test]
    fn an_empty_unreleased_section_and_link_references_are_not_listed() {
        let log = "# Changelog\n\n## [Unreleased]\n\n## [0.3.0] - 2027-01-04\n\n- a fix\n- another\n\n\
                   ## [0.2.0] - 2026-12-07\n\n### Added: y\n\n\
                   [Unreleased]: https://x.invalid/compare/v0.3.0...HEAD\n\
                   [0.3.0]: https://x.invalid/compare/v0.2.0...v0.3.0\n";
        assert_eq!(
            newer_sections(log, "0.2.0"),
            ["[0.3.0] - 2027-01-04", "  2 change(s); see the CHANGELOG"]
        );
        assert!(newer_sections(log, "0.3.0").is_empty());
        assert_eq!(
            newer_sections(log, "0.1.0"),
            [
                "[0.3.0] - 2027-01-04",
                "  2 change(s); see the CHANGELOG",
                "[0.2.0] - 2026-12-07",
                "  Added: y"
            ]
        );
    }

    #[test]
    fn the_kit_version_is_read_from_the_lock() {
        let lock = "[[package]]\nname = \"boost\"\nversion = \"0.2.0\"\n";
        assert_eq!(locked_version(lock, "boost").as_deref(), Some("0.2.0"));
        assert_eq!(locked_version(lock, "tokio"), None);
    }
}
