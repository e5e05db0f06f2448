//! Embeds the kit's tested `Cargo.lock` and its `[profile.*]` settings, so
//! `cargo boost new` starts a service on exactly what the kit was tested with.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    // Three symlinks into the workspace root, so a packaged crate (`cargo package` stores
    // a symlinked file as a plain copy) embeds the same files as a workspace build:
    // `kit.lock` (the workspace's tested lock: the package's own Cargo.lock is cut down to
    // cargo-boost's dependencies), `kit-workspace.toml` (the root manifest, for its
    // `[profile.*]` tables; not named Cargo.toml, which would make it a package) and
    // `CHANGELOG.md` (what `cargo boost check` lists as coming in later releases).
    let lock = manifest.join("kit.lock");
    let workspace = manifest.join("kit-workspace.toml");
    let changelog = manifest.join("CHANGELOG.md");
    let lock_text = std::fs::read_to_string(&lock).unwrap_or_default();
    let profiles = std::fs::read_to_string(&workspace)
        .map(|text| profiles(&text))
        .unwrap_or_else(|_| {
            "[profile.dev]\ndebug = \"line-tables-only\"\n\n[profile.dev.package.\"*\"]\ndebug = false\n"
                .to_owned()
        });
    let _ = std::fs::write(out.join("kit.lock"), lock_text);
    let _ = std::fs::write(out.join("kit-profiles.toml"), profiles);
    let changelog_text = std::fs::read_to_string(&changelog).unwrap_or_default();
    let _ = std::fs::write(out.join("kit-changelog.md"), changelog_text);
    for file in [lock, workspace, changelog] {
        rerun(&file);
    }
}

#[allow(clippy::print_stdout)] // how a build script talks to Cargo
fn rerun(file: &Path) {
    println!("cargo:rerun-if-changed={}", file.display());
}

/// The `[profile.*]` tables of the workspace manifest, with the comments
/// right above each.
fn profiles(manifest: &str) -> String {
    let mut out = String::new();
    let mut comments = String::new();
    let mut inside = false;
    for line in manifest.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            inside = trimmed.starts_with("[profile.");
            if inside {
                out.push_str(&comments);
            }
            comments.clear();
        }
        if trimmed.starts_with('#') && !inside {
            comments.push_str(line);
            comments.push('\n');
            continue;
        }
        if trimmed.is_empty() {
            if inside {
                out.push('\n');
            }
            comments.clear();
            continue;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.trim_end().to_owned() + "\n"
}
