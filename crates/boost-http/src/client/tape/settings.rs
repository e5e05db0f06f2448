//! [`HttpTapeSettings`]: whether an HTTP client records or replays its
//! requests, and where.

use std::collections::BTreeMap;
use std::path::PathBuf;

use boost_config::{ByteSize, Problems};
use boost_rpc::client::TapeMode;
use serde::{Deserialize, Serialize};

/// Record and replay of an HTTP client's requests (`[cars.tape]`), with the
/// keys and modes of the gRPC clients' `[<client>.tape]`: see
/// `docs/replay.md`. Off by default; `MY_SERVICE__CARS__TAPE__MODE=replay`
/// and `…__TAPE__PATH=tests/tapes/cars.json` switch it on for one run.
///
/// ```toml
/// [cars.tape]
/// mode = "replay"
/// path = "tests/tapes/quotes.json"
/// ignored_fields = { "POST /quotes" = ["body.request_id", "query.ts"] }
/// ```
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, boost_config::Validate, boost_config::Document,
)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = HttpTapeSettings::rules)]
#[non_exhaustive]
pub struct HttpTapeSettings {
    /// `off` (default: no tape, no cost), `record` (send requests and write
    /// each exchange to `path`), `replay` (answer from `path`, no network:
    /// not one connection, not one DNS lookup), or `replay_or_record`
    /// (answer from `path` when it has the request, else send it and add it).
    pub mode: TapeMode,
    /// The tape file (JSON), one per test or scenario, relative to the
    /// working directory (a package's directory under `cargo test`).
    /// Required unless `mode` is `off`. Latency is written beside it, in
    /// `<path>.timing.json`.
    pub path: Option<PathBuf>,
    /// Per request (`"POST /quotes"`: the method and the path relative to
    /// the base URL, no query; or `"*"` for all), what is not compared when
    /// matching: `query.<name>` for a query parameter, `body.<dotted path>`
    /// for a JSON body field, e.g. `["query.ts", "body.request_id"]` — ids
    /// and timestamps that change on every run. Default: none.
    pub ignored_fields: BTreeMap<String, Vec<String>>,
    /// Headers written as `<redacted>`, besides `authorization`,
    /// `proxy-authorization`, `cookie`, `set-cookie`, `x-api-key`,
    /// `x-auth-token` and any name with `token`, `secret` or `api-key`,
    /// which always are. Default: none.
    pub secret_headers: Vec<String>,
    /// JSON body fields (at any depth), form fields and query parameters
    /// masked in requests and responses (the whole name or a part between
    /// `.`, `_` and `-`): strings written as `<redacted>`, other values left
    /// out. They are not compared when matching. Those named by a secret
    /// word (`password`, `access_token`, `api_key`, …:
    /// `boost_tape::SECRET_WORDS`) are masked without being listed.
    /// Default: none.
    pub redacted_fields: Vec<String>,
    /// In `replay`, wait as long as each request took when it was recorded
    /// (from `<path>.timing.json`), within the request's deadline. Default
    /// `false`: tests run as fast as the tape answers.
    pub replay_latency: bool,
    /// Most entries in one tape, from 1 to 100 000. Default `10000`.
    pub max_entries: usize,
    /// Largest request body recorded, from 1 KiB to 64 MiB (responses are
    /// bounded by the client's `max_response_body`). Default `"4 MiB"`.
    pub max_body_size: ByteSize,
    /// Largest tape file read, from 1 KiB to 1 GiB. Default `"64 MiB"`.
    pub max_file_size: ByteSize,
}

impl Default for HttpTapeSettings {
    fn default() -> Self {
        Self {
            mode: TapeMode::Off,
            path: None,
            ignored_fields: BTreeMap::new(),
            secret_headers: Vec::new(),
            redacted_fields: Vec::new(),
            replay_latency: false,
            max_entries: 10_000,
            max_body_size: ByteSize::mib(4),
            max_file_size: ByteSize::mib(64),
        }
    }
}

impl HttpTapeSettings {
    /// Settings for `mode` on the tape at `path`, everything else default.
    ///
    /// ```
    /// use boost_http::client::HttpTapeSettings;
    /// use boost_rpc::client::TapeMode;
    /// let tape = HttpTapeSettings::new(TapeMode::Replay, "tests/tapes/quotes.json");
    /// assert!(!tape.mode.uses_network());
    /// ```
    pub fn new(mode: TapeMode, path: impl Into<PathBuf>) -> Self {
        Self {
            mode,
            path: Some(path.into()),
            ..Self::default()
        }
    }

    /// [`max_body_size`](Self::max_body_size) in bytes.
    pub fn max_body_bytes(&self) -> usize {
        usize::try_from(self.max_body_size.as_u64()).unwrap_or(usize::MAX)
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
        let body = self.max_body_size.as_u64();
        if !(1024..=64 << 20).contains(&body) {
            problems.add(
                "max_body_size",
                format!("is {body} bytes; must be from 1 KiB to 64 MiB (default \"4 MiB\")"),
            );
        }
        let file = self.max_file_size.as_u64();
        if !(1024..=1 << 30).contains(&file) {
            problems.add(
                "max_file_size",
                format!("is {file} bytes; must be from 1 KiB to 1 GiB (default \"64 MiB\")"),
            );
        }
        for (request, fields) in &self.ignored_fields {
            let is_request = request
                .split_once(' ')
                .is_some_and(|(method, path)| !method.is_empty() && path.starts_with('/'));
            if request != "*" && !is_request {
                problems.add(
                    &format!("ignored_fields.{request}"),
                    "is not a request: write \"METHOD /path\" (e.g. \"POST /quotes\", no query) or \"*\"",
                );
            }
            if fields
                .iter()
                .any(|f| !(f.starts_with("query.") || f.starts_with("body.")) || f.ends_with('.'))
            {
                problems.add(
                    &format!("ignored_fields.{request}"),
                    "names a field that is neither `query.<name>` nor `body.<path>`",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::HttpClientSettings;

    #[test]
    fn a_tape_without_a_path_or_with_a_bad_ignored_field_is_refused_under_its_key() {
        let mut settings = HttpClientSettings::with_base_urls(["http://127.0.0.1:1"]);
        settings.tape.mode = TapeMode::Replay;
        settings
            .tape
            .ignored_fields
            .insert("quotes".to_owned(), vec!["request_id".to_owned()]);
        let err = Problems::of("cars", &settings)
            .into_result("t")
            .map(|()| String::new())
            .unwrap_or_else(|e| e.to_string());
        assert!(err.contains("`cars.tape.path`"), "{err}");
        assert!(
            err.contains("must be set when mode is not \"off\""),
            "{err}"
        );
        assert!(err.contains("cars.tape.ignored_fields.quotes"), "{err}");
        assert!(err.contains("\"METHOD /path\""), "{err}");
        assert!(err.contains("`query.<name>` nor `body.<path>`"), "{err}");
    }

    #[test]
    fn the_modes_read_as_in_grpc_clients() {
        let settings: HttpTapeSettings =
            toml::from_str("mode = \"replay_or_record\"\npath = \"t.json\"").unwrap();
        assert_eq!(settings.mode, TapeMode::ReplayOrRecord);
        assert_eq!(HttpTapeSettings::default().mode, TapeMode::Off);
    }
}
