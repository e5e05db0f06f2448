//! Embeds the kit's tested `Cargo.lock` and its `[profile.*]` settings, so
//! `cargo boost new` starts a service on exactly what the kit was tested with.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("../..");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    // A packaged binary crate carries the workspace lock at its own root.
    let lock = [manifest.join("Cargo.lock"), root.join("Cargo.lock")]
        .into_iter()
        .find(|p| p.is_file());
    let lock_text = lock
        .as_deref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    let profiles = std::fs::read_to_string(root.join("Cargo.toml"))
        .map(|text| profiles(&text))
        .unwrap_or_else(|_| "[profile.dev]\ndebug = \"line-tables-only\"\n".to_owned());
    let _ = std::fs::write(out.join("kit.lock"), lock_text);
    let _ = std::fs::write(out.join("kit-profiles.toml"), profiles);
    let changelog = std::fs::read_to_string(root.join("CHANGELOG.md")).unwrap_or_default();
    let _ = std::fs::write(out.join("kit-changelog.md"), changelog);
    for file in [
        root.join("Cargo.lock"),
        root.join("Cargo.toml"),
        root.join("CHANGELOG.md"),
    ] {
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
