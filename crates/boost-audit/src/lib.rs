//! The kit's tamper-evident audit trail: who changed what in a running service, when, why,
//! and whether it worked — in a file where deleting or editing a line is detectable.
//!
//! Every state-changing admin action (a switch flipped, the log level changed, a refused
//! attempt) becomes one [`AuditRecord`]. [`AuditLog::record`] gives it a place in a hash
//! chain and writes it, before returning, to:
//!
//! - the **audit file**, one JSON object per line ([JSON Lines](https://jsonlines.org)),
//!   appended and fsync'd per record; each line holds the SHA-256 of the line before it;
//! - the **log stream**, as one WARN event with target [`AUDIT_TARGET`]
//!   (`boost_service::audit`), which the kit's log filter always lets through;
//! - the **newest records** in memory, for `GET /audit` ([`AuditLog::recent`]);
//! - every [`AuditSink`] (a Redis stream shared by all replicas, say).
//!
//! ```
//! use boost_audit::{AuditLog, AuditRecord, AuditSettings, verify};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("audit.jsonl");
//! let settings = AuditSettings::new(&path); // usually the `[audit]` section of the config
//! let audit = AuditLog::open(&settings, "hello-service")?;
//!
//! // In the handler of `PUT /flags/partner_hertz`, before answering:
//! let written = audit.record(
//!     AuditRecord::new("switch.set", "partner_hertz", "changed")
//!         .actor("jo")                 // who, as they said
//!         .token("sha256:2bb80d53")    // the token's fingerprint, NEVER the token
//!         .peer("10.0.0.7:51234")
//!         .change("on", "off")
//!         .reason("partner down, INC-4711"),
//! )?;
//! assert_eq!(written.seq, 1);
//! assert_eq!(written.prev, "0".repeat(64)); // the first record of the chain
//!
//! // `GET /audit?limit=20`:
//! assert_eq!(audit.recent(20), [written]);
//!
//! // `--verify-audit audit.jsonl`:
//! assert_eq!(verify(&path)?.records, 1);
//! # Ok(())
//! # }
//! ```
//!
//! # What a record says
//!
//! | field | example | |
//! |---|---|---|
//! | `seq` | `42` | the record's line number in the file, from 1 |
//! | `at` | `"2026-12-06T21:08:10.123Z"` | RFC 3339, UTC, milliseconds |
//! | `service` | `"hello-service"` | |
//! | `actor` | `"jo"` | who, as they said; `"unknown"` if they did not |
//! | `token` | `"sha256:2bb80d53"` | a fingerprint of the token presented, or `null` |
//! | `peer` | `"10.0.0.7:51234"` | the caller's address |
//! | `action` | `"switch.set"` | `switch.revert`, `loglevel.set`, `admin.refused`, … |
//! | `target` | `"partner_hertz"` | `log filter`, `PUT /flags/x`, … |
//! | `old`, `new` | `"on"`, `"off"` | the value before and after (or asked for) |
//! | `reason` | `"partner down"` | why, as they said |
//! | `outcome` | `"changed"` | `refused`, `invalid`, `unauthenticated`, `forbidden`, `unavailable`, `reverted`, … |
//! | `prev` | 64 hex digits | SHA-256 of the previous line (64 zeros for the first) |
//! | `hash` | 64 hex digits | SHA-256 of this line without its `hash` field |
//!
//! **Never pass a secret**, in particular never the bearer token: the record is written
//! as given, to a file operators read and to the log stream. Pass a fingerprint (a short
//! hash of the token) to [`AuditRecord::token`]. Fields longer than [`MAX_FIELD_BYTES`] are
//! cut and marked, so a huge `reason` cannot make a record unwritable.
//!
//! # The chain, and what it detects
//!
//! A line's `hash` covers all its other fields, `prev` included, and `prev` is the hash of
//! the whole previous line; [`verify`] walks the file and names the first line that does
//! not fit ([`VerifyError::Broken`] lists which line each kind of tampering names):
//! an edited field, a deleted, inserted or reordered line, a line cut short. What a file
//! alone cannot show is its last lines being removed: compare [`Verified::last_hash`] with
//! the newest record in the log stream or the Redis stream, which are kept elsewhere. Nor
//! does it stop someone who rewrites the whole file from the edited line on, recomputing
//! every hash: the copies in the log stream are the defence against that, which is why
//! each event carries its `hash`. The recipe, to check a file without this crate, is in
//! `docs/audit.md`.
//!
//! # Failures
//!
//! A record the file did not take (disk full, [`audit.max_file_size`](AuditSettings)
//! reached, I/O error) is an [`AuditError`] saying what to do: it is not in the chain, but
//! it is in the log stream, flagged `audit_file_error`. The handler should refuse the action
//! it audits: a change nobody can audit is not made. A full file is archived by moving it
//! away; the next record starts a new chain in a new file at the configured path.
//!
//! At start, [`AuditLog::open`] continues the chain of an existing file from its last line
//! (reading at most its last few MiB); if that line is not a valid record (a crash
//! mid-write, an edit), it refuses to start and names the file and the line.
//!
//! # Concurrency
//!
//! One lock is held across hashing, writing and fsync of a record, so any number of threads
//! can record at once and the chain stays valid. `record` blocks for one fsync; admin
//! actions are rare, so that is cheap, and there is no async runtime to depend on.
//!
//! The event target, [`AUDIT_TARGET`], must equal `boost_tracing::AUDIT_TARGET` (which the
//! kit's log filter keeps at `info` whatever the directives say); this crate does not depend
//! on boost-tracing, so boost-service checks the two are equal in a test.
#![deny(missing_docs)]

mod error;
mod log;
mod record;
mod repair;
mod settings;
mod tail;
mod verify;

pub use error::AuditError;
pub use log::{AuditLog, AuditSink};
pub use record::{
    AuditRecord, ChainedRecord, GENESIS_PREV, MAX_FIELD_BYTES, MAX_LINE_BYTES, UNKNOWN_ACTOR,
};
pub use settings::AuditSettings;
pub use verify::{Verified, VerifyError, verify, verify_command};

/// The `tracing` target of every audit event. It must equal `boost_tracing::AUDIT_TARGET`,
/// whose events the kit's log filter always passes at `info` and above (boost-audit does
/// not depend on boost-tracing; boost-service checks the two are equal).
pub const AUDIT_TARGET: &str = "boost_service::audit";
