//! [`AuditSettings`]: the `[audit]` section of a service's config file.

use std::path::PathBuf;

use boost_config::{ByteSize, Problems};
use serde::{Deserialize, Serialize};

/// `[audit]` section: where the audit trail is written and how much of it is kept at hand.
///
/// ```toml
/// [audit]
/// enabled = true
/// file = "/var/lib/hello-service/audit.jsonl"
/// max_file_size = "64 MiB"   # past it, records are refused: archive the file
/// recent = 1000              # records GET /audit can show
/// ```
///
/// Every field has a default (see [`Default`]). Its [`Validate`](boost_config::Validate)
/// rules report every value that cannot work under its key (`audit.recent`, …), and
/// [`AuditLog::open`](crate::AuditLog::open) runs them too:
///
/// ```
/// use boost_audit::AuditSettings;
/// use boost_config::Problems;
///
/// let mut settings = AuditSettings::default();
/// settings.recent = 0;
/// let problems = Problems::of("audit", &settings);
/// assert_eq!(problems.keys().collect::<Vec<_>>(), ["audit.recent"]);
/// ```
#[derive(
    Clone, Debug, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[validate(custom = rules)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuditSettings {
    /// Whether admin actions are written to `file`. Off, they still go to the log stream
    /// (target `boost_service::audit`) and to the records `GET /audit` shows, but nothing is
    /// kept across a restart and nothing can be verified. Default: `true`.
    pub enabled: bool,

    /// The audit trail: one JSON record per line, each holding the SHA-256 of the line before
    /// it, written with an fsync per record. Relative paths are relative to the working
    /// directory; missing parent directories are created. Give each replica its own file.
    /// Check it with `--verify-audit <file>`. Must not be empty when `enabled`.
    /// Default: `"audit.jsonl"`.
    pub file: PathBuf,

    /// The largest the file may grow. A record that would take it past this is refused with
    /// an error (never silently dropped): archive the file (move it away; the service starts
    /// a new chain in a new file) or raise this. From 1 KiB to 16 GiB. Default: `"64 MiB"`
    /// (about 150,000 records of 400 bytes).
    pub max_file_size: ByteSize,

    /// How many of the newest records are kept in memory for `GET /audit` (read back from the
    /// file at start). From 1 to 100000. Default: `1000`.
    pub recent: usize,
}

/// Default file name, relative to the working directory.
const DEFAULT_FILE: &str = "audit.jsonl";
/// Default size limit of the file.
const DEFAULT_MAX_FILE_SIZE: ByteSize = ByteSize::mib(64);
/// Smallest accepted size limit: a few records.
const MIN_MAX_FILE_SIZE: ByteSize = ByteSize::kib(1);
/// Largest accepted size limit: verifying it still takes seconds, not hours.
const MAX_MAX_FILE_SIZE: ByteSize = ByteSize::gib(16);
/// Default number of records kept in memory.
pub(crate) const DEFAULT_RECENT: usize = 1000;
/// Largest accepted number of records kept in memory.
const MAX_RECENT: usize = 100_000;

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            file: PathBuf::from(DEFAULT_FILE),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            recent: DEFAULT_RECENT,
        }
    }
}

impl AuditSettings {
    /// Default settings writing to `file`.
    ///
    /// ```
    /// use boost_audit::AuditSettings;
    ///
    /// let settings = AuditSettings::new("/var/lib/hello-service/audit.jsonl");
    /// assert!(settings.enabled);
    /// assert_eq!(settings.recent, 1000);
    /// ```
    pub fn new(file: impl Into<PathBuf>) -> Self {
        Self {
            file: file.into(),
            ..Self::default()
        }
    }
}

/// The rules of [`AuditSettings`] beyond each field's type; every broken one is reported.
fn rules(settings: &AuditSettings, problems: &mut Problems) {
    if settings.enabled && settings.file.as_os_str().is_empty() {
        problems.add(
            "file",
            "is empty; give the audit file's path, e.g. file = \"audit.jsonl\" (or set \
             enabled = false to keep the audit trail in the log stream only)",
        );
    }
    if settings.max_file_size < MIN_MAX_FILE_SIZE || settings.max_file_size > MAX_MAX_FILE_SIZE {
        problems.add(
            "max_file_size",
            format!(
                "is {}; it must be from {MIN_MAX_FILE_SIZE} to {MAX_MAX_FILE_SIZE}, e.g. \
                 max_file_size = \"64 MiB\"",
                settings.max_file_size
            ),
        );
    }
    if !(1..=MAX_RECENT).contains(&settings.recent) {
        problems.add(
            "recent",
            format!(
                "is {}; it is how many records GET /audit can show and must be from 1 to \
                 {MAX_RECENT}, e.g. recent = {DEFAULT_RECENT}",
                settings.recent
            ),
        );
    }
}
