//! [`TapeSettings`]: whether a client records or replays its calls, and where.

use std::collections::BTreeMap;
use std::path::PathBuf;

use boost_config::{ByteSize, Problems};
use serde::{Deserialize, Serialize};

/// What a client does with its tape (`[profiles.tape] mode`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    boost_config::Validate,
    boost_config::Document,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TapeMode {
    /// No tape: calls go to the upstream and the tape layer is not in the
    /// client at all.
    #[default]
    Off,
    /// Calls go to the upstream; each exchange is written to the tape,
    /// which starts empty when the client is built.
    Record,
    /// No network: every call is answered from the tape; a call it has no
    /// answer for fails with FAILED_PRECONDITION naming the closest entry.
    Replay,
    /// Answered from the tape when it has the call, else sent to the
    /// upstream and added to the tape.
    ReplayOrRecord,
}

impl TapeMode {
    /// Whether calls may reach the upstream in this mode.
    pub const fn uses_network(self) -> bool {
        !matches!(self, Self::Replay)
    }
}

/// Record and replay of a client's calls (`[profiles.tape]`): see
/// `docs/replay.md`. Off by default; `HELLO_SERVICE__PROFILES__TAPE__MODE=replay`
/// and `…__TAPE__PATH=tests/tapes/profiles.json` switch it on for one run.
///
/// ```toml
/// [profiles.tape]
/// mode = "replay"
/// path = "tests/tapes/greets_in_french.json"
/// ignored_fields = { "hello.v1.Profiles/GetProfile" = ["request_id"] }
/// ```
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = TapeSettings::rules)]
#[non_exhaustive]
pub struct TapeSettings {
    /// `off` (default: no tape, no cost), `record` (call the upstream and
    /// write each exchange to `path`), `replay` (answer from `path`, no
    /// network), or `replay_or_record` (answer from `path` when it has the
    /// call, else call the upstream and add it).
    pub mode: TapeMode,
    /// The tape file (JSON), one per test or scenario, relative to the
    /// working directory (a package's directory under `cargo test`).
    /// Required unless `mode` is `off`. Latency is written beside it, in
    /// `<path>.timing.json`.
    pub path: Option<PathBuf>,
    /// Per method (`"hello.v1.Profiles/GetProfile"`, or `"*"` for all), the
    /// request fields not compared when matching: dotted paths of proto
    /// field names, e.g. `["request_id", "page.token"]` — ids and
    /// timestamps that change on every run. Default: none.
    pub ignored_fields: BTreeMap<String, Vec<String>>,
    /// Metadata written as `<redacted>`, besides `authorization`,
    /// `proxy-authorization`, `cookie`, `set-cookie`, `x-api-key`,
    /// `x-auth-token` and any name made of a secret word (`password`,
    /// `secret`, `token`, `api_key`, …: `boost_tape::SECRET_WORDS`), which
    /// always are. Default: none.
    pub secret_headers: Vec<String>,
    /// Message fields (proto names, at any depth; the whole name or a part
    /// between `.`, `_` and `-`) masked in requests and responses: string
    /// fields written as `<redacted>`, others left out. They are not
    /// compared when matching. String fields named by a secret word
    /// (`password`, `access_token`, …) are masked without being listed.
    /// Default: none.
    pub redacted_fields: Vec<String>,
    /// In `replay`, wait as long as each call took when it was recorded
    /// (from `<path>.timing.json`), within the call's deadline. Default
    /// `false`: tests run as fast as the tape answers.
    pub replay_latency: bool,
    /// Most entries in one tape, from 1 to 100 000. Default `10000`: a
    /// scenario's tape is for people to review; thousands of calls are a
    /// load test.
    pub max_entries: usize,
    /// Largest gRPC message recorded or replayed, from 1 KiB to 64 MiB.
    /// Default `"4 MiB"` (gRPC's own default limit).
    pub max_message_size: ByteSize,
    /// Largest tape file read, from 1 KiB to 1 GiB. Default `"64 MiB"`.
    pub max_file_size: ByteSize,
}

impl Default for TapeSettings {
    fn default() -> Self {
        Self {
            mode: TapeMode::Off,
            path: None,
            ignored_fields: BTreeMap::new(),
            secret_headers: Vec::new(),
            redacted_fields: Vec::new(),
            replay_latency: false,
            max_entries: 10_000,
            max_message_size: ByteSize::mib(4),
            max_file_size: ByteSize::mib(64),
        }
    }
}

impl TapeSettings {
    /// Settings for `mode` on the tape at `path`, everything else default.
    ///
    /// ```
    /// use boost_rpc::client::{TapeMode, TapeSettings};
    /// let tape = TapeSettings::new(TapeMode::Replay, "tests/tapes/one.json");
    /// assert!(!tape.mode.uses_network());
    /// ```
    pub fn new(mode: TapeMode, path: impl Into<PathBuf>) -> Self {
        Self {
            mode,
            path: Some(path.into()),
            ..Self::default()
        }
    }

    /// [`max_message_size`](Self::max_message_size) in bytes.
    pub fn max_message_bytes(&self) -> usize {
        usize::try_from(self.max_message_size.as_u64()).unwrap_or(usize::MAX)
    }

    fn rules(&self, problems: &mut Problems) {
        if self.mode != TapeMode::Off && self.path.as_ref().is_none_or(|p| p.as_os_str().is_empty())
        {
            problems.add(
                "path",
                "must be set when mode is not \"off\": the tape file, e.g. \
                 \"tests/tapes/<scenario>.json\"",
            );
        }
        if !(1..=100_000).contains(&self.max_entries) {
            problems.add(
                "max_entries",
                format!(
                    "is {}; must be from 1 to 100000 (default 10000)",
                    self.max_entries
                ),
            );
        }
        let message = self.max_message_size.as_u64();
        if !(1024..=64 << 20).contains(&message) {
            problems.add(
                "max_message_size",
                format!("is {message} bytes; must be from 1 KiB to 64 MiB (default \"4 MiB\")"),
            );
        }
        let file = self.max_file_size.as_u64();
        if !(1024..=1 << 30).contains(&file) {
            problems.add(
                "max_file_size",
                format!("is {file} bytes; must be from 1 KiB to 1 GiB (default \"64 MiB\")"),
            );
        }
        for (method, fields) in &self.ignored_fields {
            if method != "*" && !method.contains('/') {
                problems.add(
                    &format!("ignored_fields.{method}"),
                    "is not a method: write \"package.Service/Method\" or \"*\"",
                );
            }
            if fields.iter().any(String::is_empty) {
                problems.add(
                    &format!("ignored_fields.{method}"),
                    "has an empty field path",
                );
            }
        }
    }
}
