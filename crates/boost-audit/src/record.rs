//! [`AuditRecord`] (what a caller reports) and [`ChainedRecord`] (what is written), and the
//! one canonical encoding of a record as a line of the audit file.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev` of the first record of a chain: 64 zeros.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The longest a line of the audit file may be, in bytes, without its newline. A record
/// whose line would be longer is refused ([`AuditError::TooLarge`](crate::AuditError::TooLarge));
/// a longer line in a file is reported broken by [`verify`](crate::verify).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The longest one text field of a record may be, in bytes: a longer value is cut at a
/// character boundary and ends with `…[truncated from N bytes]`, so one huge `reason` still
/// leaves an audit record.
pub const MAX_FIELD_BYTES: usize = 2048;

/// The actor of a record whose caller did not say who they are.
pub const UNKNOWN_ACTOR: &str = "unknown";

/// One admin action, as the code that handled it reports it to
/// [`AuditLog::record`](crate::AuditLog::record).
///
/// ```
/// use boost_audit::AuditRecord;
///
/// let record = AuditRecord::new("switch.set", "partner_hertz", "changed")
///     .actor("jo")
///     .token("sha256:2bb80d53") // a fingerprint, never the token itself
///     .peer("10.0.0.7:51234")
///     .change("on", "off")
///     .reason("partner down, INC-4711");
/// assert_eq!(record.old.as_deref(), Some("on"));
/// assert_eq!(record.new.as_deref(), Some("off"));
/// ```
///
/// Never put a secret in any field: the record goes to the log stream and to a file that
/// operators read. Identify a bearer token by a fingerprint (a short hash of it, e.g.
/// `"sha256:2bb80d53"`), never by the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Who, as they said (e.g. `"jo"`); [`UNKNOWN_ACTOR`] (`"unknown"`) if they did not say.
    #[serde(default = "unknown_actor")]
    pub actor: String,
    /// The fingerprint of the token the caller presented (e.g. `"sha256:2bb80d53"`) — never
    /// the token. `None`: no token was presented.
    #[serde(default)]
    pub token: Option<String>,
    /// The caller's address (e.g. `"10.0.0.7:51234"`).
    #[serde(default)]
    pub peer: Option<String>,
    /// What was done, dotted: `"switch.set"`, `"switch.revert"`, `"loglevel.set"`,
    /// `"admin.refused"`, ….
    pub action: String,
    /// What it was done to: `"partner_hertz"`, `"log filter"`, `"PUT /flags/x"`, ….
    pub target: String,
    /// The value before, as text.
    #[serde(default)]
    pub old: Option<String>,
    /// The value after (or asked for, when the action was refused), as text.
    #[serde(default)]
    pub new: Option<String>,
    /// Why, as the caller said.
    #[serde(default)]
    pub reason: Option<String>,
    /// How it ended: `"changed"`, `"refused"`, `"invalid"`, `"unauthenticated"`,
    /// `"forbidden"`, `"unavailable"`, `"reverted"`, ….
    pub outcome: String,
}

fn unknown_actor() -> String {
    UNKNOWN_ACTOR.to_owned()
}

impl AuditRecord {
    /// A record of `action` on `target` that ended with `outcome`, by an
    /// [unknown](UNKNOWN_ACTOR) actor; add the rest with the builder methods.
    pub fn new(
        action: impl Into<String>,
        target: impl Into<String>,
        outcome: impl Into<String>,
    ) -> Self {
        Self {
            actor: unknown_actor(),
            token: None,
            peer: None,
            action: action.into(),
            target: target.into(),
            old: None,
            new: None,
            reason: None,
            outcome: outcome.into(),
        }
    }

    /// Who did it, as they said.
    #[must_use]
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// The fingerprint of the caller's token (e.g. `"sha256:2bb80d53"`). Never pass the
    /// token itself: this value is written as given.
    #[must_use]
    pub fn token(mut self, fingerprint: impl Into<String>) -> Self {
        self.token = Some(fingerprint.into());
        self
    }

    /// The caller's address.
    #[must_use]
    pub fn peer(mut self, peer: impl Into<String>) -> Self {
        self.peer = Some(peer.into());
        self
    }

    /// The value before.
    #[must_use]
    pub fn old(mut self, old: impl Into<String>) -> Self {
        self.old = Some(old.into());
        self
    }

    /// The value after (the field `new`; the method cannot be called `new`, which makes a
    /// record).
    #[must_use]
    pub fn new_value(mut self, new: impl Into<String>) -> Self {
        self.new = Some(new.into());
        self
    }

    /// The value before and after: [`old`](Self::old) and [`new_value`](Self::new_value).
    #[must_use]
    pub fn change(self, old: impl Into<String>, new: impl Into<String>) -> Self {
        self.old(old).new_value(new)
    }

    /// Why, as the caller said.
    #[must_use]
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The record with every field at most [`MAX_FIELD_BYTES`].
    pub(crate) fn bounded(self) -> Self {
        Self {
            actor: bound(self.actor),
            token: self.token.map(bound),
            peer: self.peer.map(bound),
            action: bound(self.action),
            target: bound(self.target),
            old: self.old.map(bound),
            new: self.new.map(bound),
            reason: self.reason.map(bound),
            outcome: bound(self.outcome),
        }
    }
}

/// `value` cut to at most [`MAX_FIELD_BYTES`], marked when cut.
pub(crate) fn bound(value: String) -> String {
    if value.len() <= MAX_FIELD_BYTES {
        return value;
    }
    let marker = format!("…[truncated from {} bytes]", value.len());
    let mut end = MAX_FIELD_BYTES.saturating_sub(marker.len());
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = value;
    cut.truncate(end);
    cut.push_str(&marker);
    cut
}

/// A record as written: what was given, its place in the chain, and its hash.
///
/// One line of the audit file is this record as JSON, fields in this order (`record`'s
/// fields in its own order in place of `record`), `null` for a field not given:
///
/// ```text
/// {"seq":1,"at":"2026-12-06T21:08:10.123Z","service":"hello-service","actor":"jo",
///  "token":"sha256:2bb80d53","peer":"10.0.0.7:51234","action":"switch.set",
///  "target":"partner_hertz","old":"on","new":"off","reason":"partner down",
///  "outcome":"changed","prev":"0000…0000","hash":"5f1c…e2a9"}
/// ```
///
/// (one line in the file). `hash` is the SHA-256 of the same line without its
/// `,"hash":"…"` part, that is of the bytes before `,"hash":"` followed by `}`; `prev` is
/// the SHA-256 of the previous line's bytes (without its newline). See
/// [`verify`](crate::verify) and `docs/audit.md` for the recipe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainedRecord {
    /// The record's line number in its file, from 1.
    pub seq: u64,
    /// When it was written: RFC 3339, UTC, milliseconds (`2026-12-06T21:08:10.123Z`).
    pub at: String,
    /// The service that wrote it.
    pub service: String,
    /// What the caller reported.
    #[serde(flatten)]
    pub record: AuditRecord,
    /// Hex SHA-256 of the previous line's exact bytes (without its newline);
    /// [`GENESIS_PREV`] (64 zeros) for the first record.
    pub prev: String,
    /// Hex SHA-256 of this record's line without its `hash` field (see above).
    pub hash: String,
}

/// The text that introduces the hash, the last field of every line.
pub(crate) const HASH_FIELD: &[u8] = br#","hash":""#;

/// Seals `record`: computes its `hash` and encodes its line (without the newline).
pub(crate) fn seal(mut record: ChainedRecord) -> Result<(ChainedRecord, Vec<u8>), String> {
    record.hash = String::new();
    let mut line = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
    // `hash` is the last field, empty: the line ends with `,"hash":""}`.
    let unhashed_len = line
        .len()
        .checked_sub(HASH_FIELD.len() + 2)
        .filter(|&at| line.get(at..) == Some(br#","hash":""}"#.as_slice()))
        .ok_or_else(|| "the encoded record does not end with its hash field".to_owned())?;
    line.truncate(unhashed_len);
    line.push(b'}');
    let hash = sha256_hex(&line);
    line.pop();
    line.extend_from_slice(HASH_FIELD);
    line.extend_from_slice(hash.as_bytes());
    line.extend_from_slice(b"\"}");
    record.hash = hash;
    Ok((record, line))
}

/// The bytes `hash` is computed over: `line` up to its last `,"hash":"`, then `}`.
/// `None` when the line has no hash field.
pub(crate) fn hashed_part(line: &[u8]) -> Option<Vec<u8>> {
    let at = line
        .windows(HASH_FIELD.len())
        .rposition(|window| window == HASH_FIELD)?;
    let mut part = Vec::with_capacity(at + 1);
    part.extend_from_slice(&line[..at]);
    part.push(b'}');
    Some(part)
}

/// Lower-case hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chained() -> ChainedRecord {
        ChainedRecord {
            seq: 1,
            at: "2026-12-06T21:08:10.123Z".into(),
            service: "hello-service".into(),
            record: AuditRecord::new("switch.set", "partner_hertz", "changed").actor("jo"),
            prev: GENESIS_PREV.into(),
            hash: String::new(),
        }
    }

    #[test]
    fn sealed_line_is_the_records_json_and_its_hash_covers_the_rest() {
        let (sealed, line) = seal(chained()).unwrap();
        assert_eq!(serde_json::to_vec(&sealed).unwrap(), line);
        let part = hashed_part(&line).unwrap();
        assert_eq!(sha256_hex(&part), sealed.hash);
        let text = String::from_utf8(line).unwrap();
        assert!(
            text.starts_with(r#"{"seq":1,"at":"2026-12-06T21:08:10.123Z","service":"hello-service","actor":"jo","token":null"#),
            "{text}"
        );
        let back: ChainedRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back, sealed);
    }

    #[test]
    fn long_fields_are_cut_at_a_char_boundary_and_marked() {
        let long = "é".repeat(MAX_FIELD_BYTES);
        let cut = bound(long);
        assert!(cut.len() <= MAX_FIELD_BYTES, "{}", cut.len());
        assert!(cut.ends_with(&format!("…[truncated from {} bytes]", MAX_FIELD_BYTES * 2)));
        assert_eq!(bound("short".into()), "short");
    }
}
