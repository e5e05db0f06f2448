//! [`TapeError`]: why a tape could not be read or written.

use std::path::PathBuf;

/// Why a tape (or its timing file) could not be read or written. Each names
/// the file and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TapeError {
    /// The file could not be read or written.
    #[error("tape {}: {source}", .path.display())]
    Io {
        /// The tape file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a tape (bad JSON or an unknown field).
    #[error("tape {}: not a valid tape ({source}); re-record it or fix the JSON at the line shown", .path.display())]
    Format {
        /// The tape file.
        path: PathBuf,
        /// The JSON error, with line and column.
        source: serde_json::Error,
    },
    /// The file is a tape of another kind or version (`format`).
    #[error("tape {}: its format is {found:?}, not {expected:?}: {hint}", .path.display())]
    Kind {
        /// The tape file.
        path: PathBuf,
        /// Its `format`.
        found: String,
        /// The format expected here.
        expected: &'static str,
        /// What to do.
        hint: &'static str,
    },
    /// The file or one of its parts is larger than the configured limit.
    #[error("tape {}: {what} is {size}, over the limit of {limit}; raise the limit (`tape.{key}`) or split the scenario into several tapes", .path.display())]
    TooLarge {
        /// The tape file.
        path: PathBuf,
        /// What is too large (`the file`, `the number of entries`).
        what: &'static str,
        /// The setting that bounds it.
        key: &'static str,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
}
