//! boost-audit's integration tests, one binary (it links once).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chain;
mod concurrency;
mod events;
mod limits;
mod off_worker;
mod reopen;
mod settings;
mod tamper;

use std::path::{Path, PathBuf};

use boost_audit::{AuditLog, AuditRecord, AuditSettings};
use sha2::{Digest, Sha256};

/// A temporary directory and the audit file in it.
pub(crate) struct Dir {
    // Kept for its Drop, which removes the directory.
    _dir: tempfile::TempDir,
    pub(crate) file: PathBuf,
}

pub(crate) fn dir() -> Dir {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    Dir { _dir: dir, file }
}

pub(crate) fn open(path: &Path) -> AuditLog {
    AuditLog::open(&AuditSettings::new(path), "hello-service").unwrap()
}

/// A record numbered `n`, so that records differ.
pub(crate) fn record(n: usize) -> AuditRecord {
    AuditRecord::new("switch.set", format!("switch_{n}"), "changed")
        .actor("jo")
        .token("sha256:2bb80d53")
        .peer("127.0.0.1:40000")
        .change("on", "off")
        .reason(format!("test {n}"))
}

/// The file's lines, without newlines.
pub(crate) fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Writes `lines`, each followed by a newline.
pub(crate) fn write_lines(path: &Path, lines: &[String]) {
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `line` with its hash recomputed the way docs/audit.md says: SHA-256 of the line up to
/// its last `,"hash":"`, then `}`.
pub(crate) fn rehash(line: &str) -> String {
    let at = line.rfind(r#","hash":""#).unwrap();
    let body = format!("{}}}", &line[..at]);
    format!(
        r#"{},"hash":"{}"}}"#,
        &line[..at],
        sha256_hex(body.as_bytes())
    )
}
