//! [`verify`]: checks an audit file's chain and names the first broken line.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::record::{
    ChainedRecord, GENESIS_PREV, HASH_FIELD, MAX_LINE_BYTES, hashed_part, sha256_hex,
};

/// What [`verify`] found in an intact file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// How many records the file holds.
    pub records: u64,
    /// The `hash` of the last record ([`GENESIS_PREV`], 64 zeros, for an empty file).
    /// Compare it with the newest record in the log stream (or the Redis stream): a file
    /// whose last lines were removed still verifies, but ends with an older hash.
    pub last_hash: String,
}

/// Why [`verify`] rejected a file.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Line `line` (1-based) is the first that does not fit the chain.
    ///
    /// Which line is named, for each kind of tampering (k is the line tampered with):
    ///
    /// | tampering | line named | reason starts with |
    /// |---|---|---|
    /// | a field of line k edited | k | `hash does not match` |
    /// | line k edited and its `hash` recomputed | k + 1 | `prev does not match line k` |
    /// | line k deleted (not the last) | k (the line after the deleted one) | `seq is k+1, expected k` |
    /// | line k inserted or duplicated | k | `seq is …, expected k` |
    /// | the last line cut short | the last line | `incomplete`, `not a valid audit record` or `hash is not` |
    /// | bytes added after the hash field of line k | k | `has bytes after its hash field` |
    /// | the last lines deleted | — (the file verifies; compare [`Verified::last_hash`]) | |
    #[error("line {line}: {reason}")]
    Broken {
        /// The first broken line, from 1.
        line: u64,
        /// What is wrong with it, e.g. `prev does not match line 2 (line 2 was edited, or a
        /// line after it deleted)`.
        reason: String,
    },
    /// The file could not be opened or read.
    #[error("cannot read audit file {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// Checks the audit file at `path`, streaming it line by line (each at most
/// [`MAX_LINE_BYTES`](crate::MAX_LINE_BYTES); a longer one is broken): every line must parse
/// as a [`ChainedRecord`], `seq` must count 1, 2, 3, …, `prev` must be the SHA-256 of the
/// previous line's bytes (64 zeros for the first), and `hash` must be the SHA-256 of the
/// line without its hash field.
///
/// ```
/// use boost_audit::{AuditLog, AuditRecord, AuditSettings, VerifyError, verify};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.jsonl");
/// let log = AuditLog::open(&AuditSettings::new(&path), "hello-service")?;
/// log.record(AuditRecord::new("switch.set", "partner_hertz", "changed").actor("jo"))?;
/// log.record(AuditRecord::new("switch.revert", "partner_hertz", "reverted"))?;
/// assert_eq!(verify(&path)?.records, 2);
///
/// // Someone rewrites history:
/// let text = std::fs::read_to_string(&path)?.replacen("\"jo\"", "\"al\"", 1);
/// std::fs::write(&path, text)?;
/// match verify(&path) {
///     Err(VerifyError::Broken { line, reason }) => {
///         assert_eq!(line, 1);
///         assert!(reason.starts_with("hash does not match"), "{reason}");
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`VerifyError::Broken`] naming the first broken line, or [`VerifyError::Io`].
pub fn verify(path: &Path) -> Result<Verified, VerifyError> {
    let file = File::open(path).map_err(|source| VerifyError::Io {
        path: path.to_owned(),
        source,
    })?;
    verify_reader(BufReader::new(file), path)
}

/// [`verify`] of the first `len` bytes of the file at `path` (the records written so far,
/// while more may be appended).
pub(crate) fn verify_prefix(path: &Path, len: u64) -> Result<Verified, VerifyError> {
    let file = File::open(path).map_err(|source| VerifyError::Io {
        path: path.to_owned(),
        source,
    })?;
    verify_reader(BufReader::new(file.take(len)), path)
}

/// [`verify`], as a message for a terminal and whether the chain is intact: what the
/// service's `--verify-audit <file>` flag prints (exit status 0 when `true`).
///
/// ```text
/// audit.jsonl: 42 records, chain intact (last hash 5f1c…e2a9)
/// audit.jsonl: line 3 is broken: prev does not match line 2 (line 2 was edited, or a line after it deleted)
/// ```
pub fn verify_command(path: &Path) -> (String, bool) {
    let name = path.display();
    match verify(path) {
        Ok(Verified { records, last_hash }) => (
            format!(
                "{name}: {records} record{}, chain intact (last hash {last_hash}; it should \
                 match the newest audit record in the log stream, else records were removed \
                 from the end)",
                if records == 1 { "" } else { "s" }
            ),
            true,
        ),
        Err(VerifyError::Broken { line, reason }) => {
            (format!("{name}: line {line} is broken: {reason}"), false)
        }
        Err(VerifyError::Io { source, .. }) => (format!("{name}: cannot read: {source}"), false),
    }
}

fn verify_reader(mut reader: impl BufRead, path: &Path) -> Result<Verified, VerifyError> {
    let mut line = Vec::new();
    let mut number: u64 = 0;
    let mut prev = GENESIS_PREV.to_owned();
    let mut last_hash = GENESIS_PREV.to_owned();
    loop {
        line.clear();
        let read = read_line(&mut reader, &mut line).map_err(|source| VerifyError::Io {
            path: path.to_owned(),
            source,
        })?;
        if read == LineRead::Eof {
            return Ok(Verified {
                records: number,
                last_hash,
            });
        }
        number += 1;
        let broken = |reason: String| VerifyError::Broken {
            line: number,
            reason,
        };
        match read {
            LineRead::TooLong => {
                return Err(broken(format!(
                    "longer than {MAX_LINE_BYTES} bytes, so not a record (the file was edited or \
                     is not an audit file)"
                )));
            }
            LineRead::NoNewline => {
                return Err(broken(
                    "incomplete: no newline at its end (the write was cut off, or the line cut \
                     short)"
                        .to_owned(),
                ));
            }
            LineRead::Eof | LineRead::Line => {}
        }
        let record = check_line(&line, number, &prev).map_err(broken)?;
        prev = sha256_hex(&line);
        last_hash = record.hash;
    }
}

/// Checks one line (without its newline) that should be record `seq` after a line whose
/// SHA-256 is `prev`; the reason is a clause (`prev does not match line 2 …`).
pub(crate) fn check_line(line: &[u8], seq: u64, prev: &str) -> Result<ChainedRecord, String> {
    if line.is_empty() {
        return Err("empty (records are never empty lines)".to_owned());
    }
    let record: ChainedRecord = serde_json::from_slice(line)
        .map_err(|e| format!("not a valid audit record ({e}): the line was edited or cut"))?;
    if record.seq != seq {
        return Err(if record.seq > seq {
            format!(
                "seq is {}, expected {seq} (a line before it was deleted, or its seq edited)",
                record.seq
            )
        } else {
            format!(
                "seq is {}, expected {seq} (a line was inserted or duplicated before it, or its \
                 seq edited)",
                record.seq
            )
        });
    }
    if record.prev != prev {
        return Err(if seq == 1 {
            "prev is not 64 zeros, as the first record's must be (lines at the start of the \
             file were deleted, or its prev edited)"
                .to_owned()
        } else {
            format!(
                "prev does not match line {} (line {} was edited, or a line after it deleted)",
                seq - 1,
                seq - 1
            )
        });
    }
    if record.hash.len() != 64
        || !record
            .hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err("hash is not 64 lower-case hex digits (the line was cut or edited)".to_owned());
    }
    let hashed = hashed_part(line)
        .ok_or_else(|| "has no hash field at its end (the line was edited)".to_owned())?;
    // Nothing may follow the hash but `"}`: bytes there would not be covered by it.
    let tail_len = HASH_FIELD.len() + record.hash.len() + 2;
    if line.len() != hashed.len() - 1 + tail_len || !line.ends_with(b"\"}") {
        return Err(
            "has bytes after its hash field, which the hash does not cover (the line was edited)"
                .to_owned(),
        );
    }
    if sha256_hex(&hashed) != record.hash {
        return Err("hash does not match the line's content (the line was edited)".to_owned());
    }
    Ok(record)
}

/// How [`read_line`] ended.
#[derive(Debug, PartialEq, Eq)]
enum LineRead {
    /// A line ending in `\n` (which is not kept).
    Line,
    /// Bytes after the last newline, then the end of the file.
    NoNewline,
    /// A line longer than [`MAX_LINE_BYTES`]; reading stopped in it.
    TooLong,
    /// The end of the file, no bytes read.
    Eof,
}

/// Reads one line into `line` (without `\n`), at most [`MAX_LINE_BYTES`] of it.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<LineRead> {
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(if line.is_empty() {
                LineRead::Eof
            } else {
                LineRead::NoNewline
            });
        }
        let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (&available[..at], true),
            None => (available, false),
        };
        if line.len() + chunk.len() > MAX_LINE_BYTES {
            return Ok(LineRead::TooLong);
        }
        line.extend_from_slice(chunk);
        let used = chunk.len() + usize::from(found);
        reader.consume(used);
        if found {
            return Ok(LineRead::Line);
        }
    }
}
