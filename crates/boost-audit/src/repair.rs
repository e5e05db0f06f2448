//! A last line cut off by a crash, set aside at open instead of stopping the start.
//!
//! Each record is written with its newline in one write and then fsynced, and the caller
//! (the admin endpoint) answers only after that: a crash or power loss in between can leave
//! the file ending in part of a record nobody was told had been written. Refusing to start
//! on it would turn one crash into a restart loop until someone moves the file by hand.
//! Instead the partial bytes are copied to `<file>.partial-<unix ms>` (evidence, fsynced),
//! cut from the file, logged, and [`AuditLog::open`](crate::AuditLog::open) writes an
//! `audit.repaired` record saying so, with the SHA-256 of the bytes set aside. Only a
//! trailing piece shorter than a record can be is treated so; anything else (a bad whole
//! line, an edit) still stops the start.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::AuditError;
use crate::record::{MAX_LINE_BYTES, sha256_hex};

/// What was set aside.
#[derive(Debug)]
pub(crate) struct Repaired {
    /// Where the partial bytes were copied.
    pub(crate) evidence: PathBuf,
    /// How many bytes were cut.
    pub(crate) bytes: u64,
    /// SHA-256 of those bytes.
    pub(crate) sha256: String,
}

/// Cuts a partial last line off `file` (`size` bytes); the new size and what was done, or
/// the size unchanged and `None` when the file ends with a newline (or holds no newline
/// at all, or the piece is too long to be a cut-off record: left to the normal checks).
pub(crate) fn cut_partial_tail(
    file: &mut File,
    path: &Path,
    size: u64,
) -> Result<(u64, Option<Repaired>), AuditError> {
    if size == 0 {
        return Ok((size, None));
    }
    let error = |action: &'static str| {
        move |source| AuditError::Open {
            action,
            path: path.to_owned(),
            source,
        }
    };
    let window = size.min(u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX) + 1);
    file.seek(SeekFrom::Start(size - window))
        .map_err(error("read"))?;
    let mut tail = Vec::new();
    file.take(window)
        .read_to_end(&mut tail)
        .map_err(error("read"))?;
    if tail.last() == Some(&b'\n') {
        return Ok((size, None));
    }
    let Some(newline) = tail.iter().rposition(|&b| b == b'\n') else {
        // No whole line in reach: not a cut-off record after good ones.
        return Ok((size, None));
    };
    let partial = &tail[newline + 1..];
    let bytes = u64::try_from(partial.len()).unwrap_or(u64::MAX);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut evidence = path.as_os_str().to_owned();
    evidence.push(format!(".partial-{millis}"));
    let evidence = PathBuf::from(evidence);
    let mut copy = File::create(&evidence).map_err(|source| AuditError::Open {
        action: "set aside the partial last line of",
        path: path.to_owned(),
        source,
    })?;
    copy.write_all(partial)
        .and_then(|()| copy.sync_all())
        .map_err(error("set aside the partial last line of"))?;
    file.set_len(size - bytes)
        .and_then(|()| file.sync_all())
        .map_err(error("cut the partial last line of"))?;
    Ok((
        size - bytes,
        Some(Repaired {
            evidence,
            bytes,
            sha256: sha256_hex(partial),
        }),
    ))
}
