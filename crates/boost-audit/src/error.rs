//! [`AuditError`]: why the audit log could not be opened or a record could not be written.

use std::io;
use std::path::PathBuf;

/// Why [`AuditLog::open`](crate::AuditLog::open) or
/// [`AuditLog::record`](crate::AuditLog::record) failed. Each message names the file and
/// says what to do.
///
/// A record that could not be written is not part of the chain (the next one takes its
/// `seq`), but it has been sent to the log stream, flagged `audit_file_error`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The `[audit]` settings break a rule.
    #[error(transparent)]
    Settings(#[from] boost_config::ConfigError),

    /// The audit file (or its directory) could not be created, opened or read.
    #[error(
        "cannot {action} audit file {}: {source}; check that the directory exists or can be \
         created and is writable by the service (audit.file)",
        .path.display()
    )]
    Open {
        /// What was being done: `"create the directory of"`, `"open"`, `"lock"`, `"read"`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },

    /// Another process has the file open for writing (it holds its lock).
    #[error(
        "audit file {} is in use by another process: two \
         writers would interleave their chains and break both; give each replica its own \
         audit.file (e.g. audit-<replica>.jsonl)",
        .path.display()
    )]
    InUse {
        /// The file.
        path: PathBuf,
    },

    /// The last line of an existing audit file is not a valid record, so the chain cannot
    /// be continued.
    #[error(
        "audit file {} cannot be continued: {line} {reason}; run `--verify-audit {}` to find the \
         first broken line, then move the file away (keep it as evidence) and start again",
        .path.display(),
        .path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Which line: `"line 42"`, or `"the last line"` when its number is not known.
        line: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Writing the record would take the file past `audit.max_file_size`; nothing was
    /// written.
    #[error(
        "audit file {} is full: it has {size} bytes and the next record ({record} bytes) would \
         pass audit.max_file_size ({limit} bytes); the record was NOT written. Archive the file \
         (move it away, e.g. `mv {} {}.1`: the next record starts a new chain in a new file) or \
         raise audit.max_file_size",
        .path.display(),
        .path.display(),
        .path.display()
    )]
    Full {
        /// The file.
        path: PathBuf,
        /// Its size now, in bytes.
        size: u64,
        /// The size of the record's line, in bytes.
        record: u64,
        /// `audit.max_file_size`, in bytes.
        limit: u64,
    },

    /// Writing or syncing the record failed; the record is not in the file.
    #[error(
        "cannot write the audit record to {}: {source}; the record was NOT written. Check the \
         disk (space, permissions, health) and retry",
        .path.display()
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },

    /// A write failed and the partial record could not be removed, so the file may end in
    /// a broken line; nothing more is written to it.
    #[error(
        "audit file {} may end in a partial record after a failed write ({reason}); no more \
         records are written to it. Run `--verify-audit {}`, move the file away and restart \
         the service",
        .path.display(),
        .path.display()
    )]
    Broken {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },

    /// The record's line would be longer than
    /// [`MAX_LINE_BYTES`](crate::MAX_LINE_BYTES) (every field is already cut to
    /// [`MAX_FIELD_BYTES`](crate::MAX_FIELD_BYTES); only fields full of characters JSON
    /// escapes get here).
    #[error(
        "audit record for {action} {target:?} is {bytes} bytes as JSON, over the {limit}-byte \
         line limit; it was NOT written. Send shorter values (reason, old, new)"
    )]
    TooLarge {
        /// The record's action.
        action: String,
        /// The record's target.
        target: String,
        /// The size of its line.
        bytes: usize,
        /// The limit.
        limit: usize,
    },

    /// The record could not be encoded as JSON (a bug: please report it).
    #[error("cannot encode the audit record as JSON: {0} (a bug in boost-audit)")]
    Encode(String),

    /// [`AuditLog::record_async`](crate::AuditLog::record_async)'s task on tokio's
    /// blocking pool did not finish (the runtime is shutting down); the record may not be
    /// in the file.
    #[error(
        "the task writing the audit record did not finish ({reason}); treat the record as NOT          written (the service is probably stopping) and retry"
    )]
    Interrupted {
        /// Why the task did not finish.
        reason: String,
    },
}
