//! Reading the end of an existing audit file at open: where the chain stands (the last
//! record's `seq` and the hash of its line) and the newest records, with bounded reads.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::AuditError;
use crate::record::{ChainedRecord, GENESIS_PREV, MAX_LINE_BYTES, sha256_hex};
use crate::verify::check_line;

/// The least read from the end of the file: the last line is found in it.
const MIN_TAIL_BYTES: u64 = 1024 * 1024;
/// The most read from the end of the file, whatever `recent` asks for.
const MAX_TAIL_BYTES: u64 = 32 * 1024 * 1024;
/// Bytes read per record `recent` asks for (records are typically 300–600 bytes).
const TAIL_BYTES_PER_RECORD: u64 = 512;

/// Where an existing file's chain stands.
#[derive(Debug)]
pub(crate) struct Tail {
    /// The last record's `seq` (0 for an empty file).
    pub(crate) seq: u64,
    /// SHA-256 of the last line: the next record's `prev`.
    pub(crate) prev: String,
    /// The newest records (at most `recent`), oldest first.
    pub(crate) recent: Vec<ChainedRecord>,
}

/// Reads the end of `file` (`len` bytes long): at least the last 1 MiB, more when `recent`
/// records need it, never more than 32 MiB.
pub(crate) fn read_tail(
    file: &mut File,
    path: &Path,
    len: u64,
    recent: usize,
) -> Result<Tail, AuditError> {
    if len == 0 {
        return Ok(Tail {
            seq: 0,
            prev: GENESIS_PREV.to_owned(),
            recent: Vec::new(),
        });
    }
    let wanted = u64::try_from(recent)
        .unwrap_or(u64::MAX)
        .saturating_mul(TAIL_BYTES_PER_RECORD)
        .clamp(MIN_TAIL_BYTES, MAX_TAIL_BYTES);
    let start = len.saturating_sub(wanted);
    let read_error = |source| AuditError::Open {
        action: "read",
        path: path.to_owned(),
        source,
    };
    file.seek(SeekFrom::Start(start)).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(len - start)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;

    let corrupt = |line: String, reason: String| AuditError::Corrupt {
        path: path.to_owned(),
        line,
        reason,
    };
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    // `split` yields what follows the last newline: empty when the file ends with one.
    let after_last_newline = lines.pop().unwrap_or_default();
    // The first piece of a window that starts inside the file may be part of a line.
    let first_whole = usize::from(start > 0);
    let whole = lines.get(first_whole..).unwrap_or_default();
    let name_of_line_after = |index: usize| -> String {
        index
            .checked_sub(1)
            .and_then(|before| whole.get(before))
            .and_then(|line| serde_json::from_slice::<ChainedRecord>(line).ok())
            .map_or_else(
                || {
                    if start == 0 {
                        format!("line {}", index + 1)
                    } else {
                        "the last line".to_owned()
                    }
                },
                |record| format!("line {}", record.seq + 1),
            )
    };
    if !after_last_newline.is_empty() {
        return Err(corrupt(
            name_of_line_after(whole.len()),
            "is incomplete: no newline at its end (a write was cut off, e.g. by a crash)"
                .to_owned(),
        ));
    }
    let Some((&last, _)) = whole.split_last() else {
        return Err(corrupt(
            "the last line".to_owned(),
            format!("is longer than {wanted} bytes, so it is not a record"),
        ));
    };
    let last_index = whole.len() - 1;
    let last_name = || name_of_line_after(last_index);
    if last.len() > MAX_LINE_BYTES {
        return Err(corrupt(
            last_name(),
            format!("is longer than {MAX_LINE_BYTES} bytes, so it is not a record"),
        ));
    }
    let parsed: ChainedRecord = serde_json::from_slice(last)
        .map_err(|e| corrupt(last_name(), format!("is not a valid audit record ({e})")))?;
    // Check the last line against the one before it when that is in the window.
    let expected_prev = match last_index.checked_sub(1).and_then(|i| whole.get(i)) {
        Some(before) => sha256_hex(before),
        None if start == 0 => GENESIS_PREV.to_owned(),
        None => parsed.prev.clone(),
    };
    // From the start of the file, line numbers are known.
    let expected_seq = if start == 0 {
        u64::try_from(whole.len()).unwrap_or(u64::MAX)
    } else {
        parsed.seq
    };
    let checked = check_line(last, expected_seq, &expected_prev)
        .map_err(|reason| corrupt(format!("line {expected_seq}"), reason))?;

    let skip = whole.len().saturating_sub(recent);
    let recent: Vec<ChainedRecord> = whole[skip..]
        .iter()
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect();
    let unreadable = whole.len() - skip - recent.len();
    if unreadable > 0 {
        tracing::warn!(
            path = %path.display(),
            unreadable,
            "{unreadable} of the newest lines of audit file {} are not valid records and are not \
             shown in GET /audit; run --verify-audit {} to find the first broken line",
            path.display(),
            path.display(),
        );
    }
    Ok(Tail {
        seq: checked.seq,
        prev: sha256_hex(last),
        recent,
    })
}
