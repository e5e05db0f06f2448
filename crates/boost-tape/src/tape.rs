//! [`Tape`]: the file format, read and written within [`Limits`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::TapeError;

/// The `format` of the tapes this version writes.
pub(crate) const FORMAT: &str = "boost-tape/1";

/// One scenario's recorded exchanges: a JSON file, pretty-printed, keys
/// sorted, entries sorted by method and request (identical requests keep
/// their recorded order), so the same scenario always writes the same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Tape {
    /// `boost-tape/1`.
    pub format: String,
    /// The exchanges, in the order described on [`Tape`].
    pub entries: Vec<Entry>,
}

impl Default for Tape {
    fn default() -> Self {
        Self {
            format: FORMAT.to_owned(),
            entries: Vec::new(),
        }
    }
}

/// One recorded call: what was asked and what came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Entry {
    /// `package.Service/Method`.
    pub method: String,
    /// What the client sent.
    pub request: Request,
    /// What the upstream answered.
    pub response: Response,
    /// Written by hand, never recorded: answer with this status and/or after
    /// this delay instead of (or before) the recorded response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
}

impl Entry {
    /// A unary exchange answered `OK` with `reply` (for tests and hand-written tapes).
    pub fn ok(method: &str, request: Value, reply: Value) -> Self {
        Self {
            method: method.to_owned(),
            request: Request {
                messages: vec![request],
                metadata: BTreeMap::new(),
            },
            response: Response {
                code: "OK".to_owned(),
                message: String::new(),
                metadata: BTreeMap::new(),
                messages: vec![reply],
                trailers: BTreeMap::new(),
            },
            fault: None,
        }
    }
}

/// The request side of an [`Entry`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The request messages as JSON (one for a unary call), field names as in
    /// the `.proto`, fields at their default value left out.
    pub messages: Vec<Value>,
    /// The call's own metadata (secrets masked; the transport's and the
    /// kit's per-call headers, such as `grpc-timeout` and `traceparent`, left
    /// out). Recorded for review; not matched.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// The response side of an [`Entry`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// The gRPC status code by name: `OK`, `NOT_FOUND`, `UNAVAILABLE`, …
    pub code: String,
    /// The status message (`grpc-message`), empty for `OK`.
    #[serde(default)]
    pub message: String,
    /// Response headers (secrets masked; `content-type`, `date` and the
    /// like left out).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// The response messages as JSON (none when the call failed).
    #[serde(default)]
    pub messages: Vec<Value>,
    /// Trailers other than `grpc-status` and `grpc-message` (e.g.
    /// `grpc-status-details-bin`), secrets masked.
    #[serde(default)]
    pub trailers: BTreeMap<String, String>,
}

/// A fault to inject on replay, written into a tape by hand (for
/// resilience tests): an entry with `"fault": {"code": "UNAVAILABLE"}`
/// answers UNAVAILABLE; `"delay": "250ms"` answers after 250 ms (bounded by
/// the call's deadline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Fault {
    /// The status code to answer with instead of the recorded response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Its message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Wait this long before answering.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub delay: Option<Duration>,
}

/// Bounds on what is read from and written to a tape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest tape file read.
    pub max_file_bytes: u64,
    /// Most entries in one tape.
    pub max_entries: usize,
    /// Largest gRPC message (one frame) buffered, decoded or encoded.
    pub max_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 64 << 20,
            max_entries: 10_000,
            max_message_bytes: 4 << 20,
        }
    }
}

impl Limits {
    /// Bounds of a file, entries and messages.
    pub const fn new(max_file_bytes: u64, max_entries: usize, max_message_bytes: usize) -> Self {
        Self {
            max_file_bytes,
            max_entries,
            max_message_bytes,
        }
    }
}

impl Tape {
    /// Reads the tape at `path`; a missing file is an empty tape.
    ///
    /// # Errors
    /// [`TapeError`] when the file cannot be read, is over
    /// [`Limits::max_file_bytes`] or [`Limits::max_entries`], or is not a tape.
    pub fn load_or_empty(path: &Path, limits: Limits) -> Result<Self, TapeError> {
        if !path.exists() {
            return Ok(Self::default());
        }
        Self::load(path, limits)
    }

    /// Reads the tape at `path`.
    ///
    /// # Errors
    /// As [`load_or_empty`](Self::load_or_empty), and a missing file.
    pub fn load(path: &Path, limits: Limits) -> Result<Self, TapeError> {
        let bytes = read_bounded(path, limits.max_file_bytes)?;
        check_format(
            path,
            &bytes,
            FORMAT,
            "a gRPC client or virtual upstream reads gRPC tapes \
             (an HTTP tape is for an HttpClient's [<client>.tape])",
        )?;
        let tape: Tape = serde_json::from_slice(&bytes).map_err(|source| TapeError::Format {
            path: path.to_owned(),
            source,
        })?;
        if tape.entries.len() > limits.max_entries {
            return Err(TapeError::TooLarge {
                path: path.to_owned(),
                what: "the number of entries",
                key: "max_entries",
                size: tape.entries.len() as u64,
                limit: limits.max_entries as u64,
            });
        }
        Ok(tape)
    }

    /// The tape as its file holds it: entries sorted (stably) by method and
    /// request, pretty JSON with keys sorted, a final newline.
    pub fn to_canonical_json(&self) -> String {
        let mut tape = self.clone();
        tape.sort();
        canonical_pretty(&tape)
    }

    /// Sorts the entries by method and canonical request, keeping the
    /// recorded order of identical requests.
    pub fn sort(&mut self) {
        self.entries
            .sort_by_cached_key(|e| (e.method.clone(), canonical(&e.request.messages)));
    }

    /// Writes the tape to `path` (through a temporary file and a rename, so a
    /// reader never sees half a tape), creating the directory.
    ///
    /// # Errors
    /// [`TapeError::Io`] naming the file.
    pub fn save(&self, path: &Path) -> Result<(), TapeError> {
        write_atomic(path, self.to_canonical_json().as_bytes())
    }
}

/// How long each entry of a tape took when it was recorded, kept beside the
/// tape (`<tape>.timing.json`) so latency never makes a re-recorded tape
/// differ. Commit it or ignore it; replaying recorded latency reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Timing {
    /// Per entry of the tape (same order): `method`, and `elapsed` as recorded.
    pub entries: Vec<TimingEntry>,
}

/// One entry of a [`Timing`] file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TimingEntry {
    /// The entry's method, to check the files belong together.
    pub method: String,
    /// The call's duration when recorded.
    #[serde(with = "humantime_serde")]
    pub elapsed: Duration,
}

impl Timing {
    /// The timing file of the tape at `tape`: `<tape>.timing.json`.
    pub fn path_of(tape: &Path) -> PathBuf {
        let mut name = tape.as_os_str().to_owned();
        name.push(".timing.json");
        PathBuf::from(name)
    }

    /// The timing of `tape`'s entries from `elapsed` (one per entry, in the
    /// tape's unsorted order), sorted as the tape will be.
    pub fn of(tape: &Tape, elapsed: &[Duration]) -> Self {
        let mut pairs: Vec<(&Entry, Duration)> = tape
            .entries
            .iter()
            .zip(
                elapsed
                    .iter()
                    .copied()
                    .chain(std::iter::repeat(Duration::ZERO)),
            )
            .collect();
        pairs.sort_by_cached_key(|(e, _)| (e.method.clone(), canonical(&e.request.messages)));
        Self {
            entries: pairs
                .into_iter()
                .map(|(e, elapsed)| TimingEntry {
                    method: e.method.clone(),
                    elapsed: Duration::from_micros(
                        u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                    ),
                })
                .collect(),
        }
    }

    /// Reads the timing file of the tape at `tape`; missing or unreadable is
    /// no timing (replay then waits for nothing but faults' delays).
    pub fn load(tape: &Path, limits: Limits) -> Self {
        read_bounded(&Self::path_of(tape), limits.max_file_bytes)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes the timing file of the tape at `tape`.
    ///
    /// # Errors
    /// [`TapeError::Io`] naming the file.
    pub fn save(&self, tape: &Path) -> Result<(), TapeError> {
        write_atomic(&Self::path_of(tape), canonical_pretty(self).as_bytes())
    }
}

/// Refuses a file whose `format` is there and is not `expected` (a tape of
/// the other kind, or a newer version), before its fields are read.
pub(crate) fn check_format(
    path: &Path,
    bytes: &[u8],
    expected: &'static str,
    hint: &'static str,
) -> Result<(), TapeError> {
    #[derive(Deserialize)]
    struct Format {
        format: Option<Value>,
    }
    match serde_json::from_slice::<Format>(bytes) {
        Ok(Format {
            format: Some(found),
        }) if found != expected => Err(TapeError::Kind {
            path: path.to_owned(),
            found: found
                .as_str()
                .map_or_else(|| found.to_string(), str::to_owned),
            expected,
            hint,
        }),
        // Missing or matching: the full parse says what else is wrong.
        _ => Ok(()),
    }
}

/// `value` as compact JSON with keys sorted: the form requests are compared in.
pub(crate) fn canonical<T: Serialize>(value: &T) -> String {
    // serde_json's `Map` is a BTreeMap here (no `preserve_order`), so going
    // through `Value` sorts every object's keys.
    serde_json::to_value(value)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

pub(crate) fn canonical_pretty<T: Serialize>(value: &T) -> String {
    let mut text = serde_json::to_value(value)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_default();
    text.push('\n');
    text
}

pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, TapeError> {
    use std::io::Read as _;
    let io = |source| TapeError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(TapeError::TooLarge {
            path: path.to_owned(),
            what: "the file",
            key: "max_file_size",
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TapeError> {
    let io = |source| TapeError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn the_file_is_sorted_pretty_json_and_reads_back() {
        let mut tape = Tape::default();
        tape.entries
            .push(Entry::ok("b.S/M", json!({"z": 1, "a": 2}), json!({})));
        tape.entries
            .push(Entry::ok("a.S/M", json!({"name": "x"}), json!({})));
        let text = tape.to_canonical_json();
        assert!(text.find("a.S/M").unwrap() < text.find("b.S/M").unwrap());
        assert!(text.find("\"a\": 2").unwrap() < text.find("\"z\": 1").unwrap());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t/one.json");
        tape.save(&path).unwrap();
        let back = Tape::load(&path, Limits::default()).unwrap();
        assert_eq!(back.to_canonical_json(), text);
    }

    #[test]
    fn a_tape_over_the_limits_is_refused_with_the_key_to_raise() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        let mut tape = Tape::default();
        for i in 0..3 {
            tape.entries
                .push(Entry::ok("a.S/M", json!({"i": i}), json!({})));
        }
        tape.save(&path).unwrap();
        let few = Tape::load(&path, Limits::new(1 << 20, 2, 1024)).unwrap_err();
        assert!(few.to_string().contains("max_entries"), "{few}");
        let small = Tape::load(&path, Limits::new(10, 100, 1024)).unwrap_err();
        assert!(small.to_string().contains("max_file_size"), "{small}");
    }
}
