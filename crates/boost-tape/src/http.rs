//! [`HttpTape`]: recorded HTTP exchanges (method, URL, headers, body; status,
//! headers, body), and the [`HttpMatcher`] that answers requests from them
//! by the same rules as gRPC calls.
//!
//! ```
//! use boost_tape::{Body, HttpEntry, HttpMatcher, HttpTape, MatchRules};
//! use serde_json::json;
//!
//! let mut tape = HttpTape::default();
//! tape.entries.push(HttpEntry::ok(
//!     "POST",
//!     "/v1/quotes?city=LIS",
//!     Some(Body::Json(json!({"days": 3}))),
//!     Some(Body::Json(json!({"price_cents": 4200}))),
//! ));
//! let mut matcher = HttpMatcher::new(tape, MatchRules::default());
//! let at = matcher
//!     .find_index("POST", "/v1/quotes?city=LIS", Some(&Body::Json(json!({"days": 3}))))
//!     .unwrap();
//! assert_eq!(matcher.tape().entries[at].response.status, 200);
//! let miss = matcher
//!     .find_index("POST", "/v1/quotes?city=OPO", Some(&Body::Json(json!({"days": 3}))))
//!     .unwrap_err();
//! assert!(miss.to_string().contains("query.city: recorded \"LIS\", got \"OPO\""), "{miss}");
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::tape::{canonical, canonical_pretty, check_format, read_bounded, write_atomic};
use crate::{Entry, Limits, MatchRules, Matcher, Miss, Tape, TapeError, Timing, TimingEntry};

/// The `format` of the HTTP tapes this version writes.
const HTTP_FORMAT: &str = "boost-tape-http/1";

/// One scenario's recorded HTTP exchanges: a JSON file, pretty-printed, keys
/// sorted, entries sorted by method, URL and request body (identical
/// requests keep their recorded order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HttpTape {
    /// `boost-tape-http/1`.
    pub format: String,
    /// The exchanges.
    pub entries: Vec<HttpEntry>,
}

impl Default for HttpTape {
    fn default() -> Self {
        Self {
            format: HTTP_FORMAT.to_owned(),
            entries: Vec::new(),
        }
    }
}

/// One recorded request and its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HttpEntry {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path and query, relative to the client's base URL
    /// (`/quotes?city=LIS`), redacted query parameters masked.
    pub url: String,
    /// What the client sent.
    pub request: HttpRequest,
    /// What the upstream answered.
    pub response: HttpResponse,
    /// Written by hand, never recorded: answer with this status (empty
    /// body) and/or after this delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<HttpFault>,
}

impl HttpEntry {
    /// An exchange answered `200` with `reply` (for tests and hand-written tapes).
    pub fn ok(method: &str, url: &str, request: Option<Body>, reply: Option<Body>) -> Self {
        Self {
            method: method.to_owned(),
            url: url.to_owned(),
            request: HttpRequest {
                headers: BTreeMap::new(),
                body: request,
            },
            response: HttpResponse {
                status: 200,
                headers: BTreeMap::new(),
                body: reply,
            },
            fault: None,
        }
    }
}

/// The request side of an [`HttpEntry`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HttpRequest {
    /// The request's own headers (secrets masked; the kit's per-request
    /// ones, such as `traceparent` and `x-request-id`, left out).
    /// Recorded for review; not matched.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body; none when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

/// The response side of an [`HttpEntry`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Response headers (secrets masked; `date` and the like left out).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body; none when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

/// A body as a person reads it: JSON as JSON, other text as a string,
/// anything else as base64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Body {
    /// A JSON body (its content type says JSON, and it parses), kept as a
    /// canonical JSON value: replayed compact, keys sorted.
    Json(Value),
    /// A UTF-8 body that is not JSON.
    Text(String),
    /// Any other body, base64 (standard alphabet, padded).
    Base64(String),
}

impl Body {
    /// `bytes` as a body, `None` when empty; JSON when `content_type` names
    /// JSON (`application/json`, `application/problem+json`, …) and it parses.
    pub fn of(content_type: Option<&str>, bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() {
            return None;
        }
        let json = content_type.is_some_and(|t| {
            let t = t.to_ascii_lowercase();
            t.contains("/json") || t.contains("+json")
        });
        if json && let Ok(value) = serde_json::from_slice(bytes) {
            return Some(Self::Json(value));
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Some(Self::Text(text.to_owned())),
            Err(_) => Some(Self::Base64(
                base64::engine::general_purpose::STANDARD.encode(bytes),
            )),
        }
    }

    /// The bytes the body is sent or answered as.
    ///
    /// # Errors
    /// A `base64` body that does not decode (the message says where).
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        match self {
            Self::Json(value) => Ok(value.to_string().into_bytes()),
            Self::Text(text) => Ok(text.clone().into_bytes()),
            Self::Base64(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("body.base64 is not base64: {e}")),
        }
    }

    /// The body masked by `redaction`'s field names: a JSON body's fields,
    /// and the values of a form-shaped text body (`user=bob&password=…`).
    pub fn mask(&mut self, redaction: &crate::Redaction) {
        match self {
            Self::Json(value) => redaction.mask_message(value),
            Self::Text(text) if is_form(text) => *text = mask_pairs(text, redaction),
            Self::Text(_) | Self::Base64(_) => {}
        }
    }

    /// What a request's body is matched by: JSON as is, a form-shaped text
    /// body as an object of its fields (so its secret fields are not
    /// compared, and `body.<field>` can be ignored), other text as a string.
    fn comparable(&self) -> Value {
        match self {
            Self::Json(value) => value.clone(),
            Self::Text(text) if is_form(text) => Value::Object(pairs(text)),
            Self::Text(text) | Self::Base64(text) => Value::String(text.clone()),
        }
    }
}

/// Whether `text` reads as `application/x-www-form-urlencoded`: one line,
/// no spaces, `name=value` pairs joined by `&`.
fn is_form(text: &str) -> bool {
    !text.is_empty()
        && !text.bytes().any(|b| b.is_ascii_whitespace())
        && text.split('&').all(|pair| pair.contains('='))
}

/// `name=value&…` with the values of secret names written as `<redacted>`.
fn mask_pairs(pairs: &str, redaction: &crate::Redaction) -> String {
    pairs
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if redaction.is_secret_field(name) => {
                format!("{name}={}", crate::REDACTED)
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `name=value&…` as an object, a repeated name as a list of its values.
fn pairs(text: &str) -> Map<String, Value> {
    let mut params: Map<String, Value> = Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = Value::String(value.to_owned());
        match params.get_mut(name) {
            None => {
                params.insert(name.to_owned(), value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => {
                let first = first.take();
                params.insert(name.to_owned(), Value::Array(vec![first, value]));
            }
        }
    }
    params
}

/// A fault to inject on replay, written by hand: `"fault": {"status": 503}`
/// answers 503 with an empty body; `"delay": "250ms"` answers after 250 ms
/// (bounded by the request's deadline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HttpFault {
    /// The status to answer with instead of the recorded response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Wait this long before answering.
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub delay: Option<Duration>,
}

/// The path and query of `url` with the values of secret query parameters
/// masked (written as `<redacted>`): those named in `fields`, and those
/// named by one of the [`SECRET_WORDS`](crate::SECRET_WORDS) (matched as
/// [`Redaction`](crate::Redaction) matches field names).
pub fn mask_url(url: &str, fields: &[String]) -> String {
    let Some((path, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let redaction = crate::Redaction::new(Vec::<String>::new(), fields.iter().cloned());
    format!("{path}?{}", mask_pairs(query, &redaction))
}

/// What a request is matched by: `"METHOD /path"`, and an object of its
/// `query` parameters (a list for a repeated name) and its `body`.
fn match_key(method: &str, url: &str, body: Option<&Body>) -> (String, Value) {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut key = Map::new();
    key.insert("query".to_owned(), Value::Object(pairs(query)));
    if let Some(body) = body {
        key.insert("body".to_owned(), body.comparable());
    }
    (format!("{method} {path}"), Value::Object(key))
}

impl HttpTape {
    /// Reads the tape at `path`; a missing file is an empty tape.
    ///
    /// # Errors
    /// [`TapeError`] when the file cannot be read, is over the limits, or
    /// is not an HTTP tape.
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
            HTTP_FORMAT,
            "an HttpClient reads HTTP tapes (a gRPC tape is for a gRPC client's [<client>.tape])",
        )?;
        let tape: Self = serde_json::from_slice(&bytes).map_err(|source| TapeError::Format {
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

    /// The tape as its file holds it: entries sorted (stably) by method,
    /// URL and request body, pretty JSON with keys sorted, a final newline.
    pub fn to_canonical_json(&self) -> String {
        let mut tape = self.clone();
        tape.entries.sort_by_cached_key(sort_key);
        canonical_pretty(&tape)
    }

    /// Writes the tape to `path` (a temporary file, then a rename).
    ///
    /// # Errors
    /// [`TapeError::Io`] naming the file.
    pub fn save(&self, path: &Path) -> Result<(), TapeError> {
        write_atomic(path, self.to_canonical_json().as_bytes())
    }

    /// The timing of the entries from `elapsed` (one per entry, in the
    /// tape's unsorted order), sorted as the file will be; each entry's
    /// `method` reads `GET /url`.
    pub fn timing(&self, elapsed: &[Duration]) -> Timing {
        let mut pairs: Vec<(&HttpEntry, Duration)> = self
            .entries
            .iter()
            .zip(
                elapsed
                    .iter()
                    .copied()
                    .chain(std::iter::repeat(Duration::ZERO)),
            )
            .collect();
        pairs.sort_by_cached_key(|(e, _)| sort_key(e));
        Timing {
            entries: pairs
                .into_iter()
                .map(|(e, elapsed)| TimingEntry {
                    method: format!("{} {}", e.method, e.url),
                    elapsed: Duration::from_micros(
                        u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
                    ),
                })
                .collect(),
        }
    }
}

fn sort_key(entry: &HttpEntry) -> (String, String, String) {
    (
        entry.method.clone(),
        entry.url.clone(),
        canonical(&entry.request.body),
    )
}

/// Answers requests from an [`HttpTape`]: the first unused entry with the
/// same method and path whose query and body (minus ignored and redacted
/// fields) compare equal, so identical requests replay in recorded order;
/// once all are used, the last answers again.
///
/// Ignored fields are keyed by `"METHOD /path"` (or `"*"`), and name
/// `query.<param>` or `body.<field path>`.
#[derive(Debug, Clone)]
pub struct HttpMatcher {
    tape: HttpTape,
    inner: Matcher,
}

impl HttpMatcher {
    /// A matcher over `tape` comparing by `rules`.
    pub fn new(tape: HttpTape, rules: MatchRules) -> Self {
        let mut matcher = Self {
            tape: HttpTape::default(),
            inner: Matcher::new(Tape::default(), rules),
        };
        for entry in tape.entries {
            matcher.push(entry, false);
        }
        matcher
    }

    /// Adds `entry` (a request just recorded), marked used when `used`.
    pub fn push(&mut self, entry: HttpEntry, used: bool) {
        let (method, key) = match_key(&entry.method, &entry.url, entry.request.body.as_ref());
        self.inner.push(Entry::ok(&method, key, Value::Null), used);
        self.tape.entries.push(entry);
    }

    /// The tape, with any entries pushed since.
    pub fn tape(&self) -> &HttpTape {
        &self.tape
    }

    /// The index of the entry answering `method` on `url` with `body`.
    ///
    /// # Errors
    /// [`Miss`], naming the closest recorded request (its `query.…` and
    /// `body.…` fields) and how it differs.
    pub fn find_index(
        &mut self,
        method: &str,
        url: &str,
        body: Option<&Body>,
    ) -> Result<usize, Miss> {
        let (method, key) = match_key(method, url, body);
        self.inner.find_index(&method, &[key])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_are_json_text_or_base64() {
        assert_eq!(
            Body::of(Some("application/json; charset=utf-8"), br#"{"b":1,"a":2}"#),
            Some(Body::Json(json!({"a": 2, "b": 1})))
        );
        assert_eq!(
            Body::of(Some("text/plain"), b"hi"),
            Some(Body::Text("hi".into()))
        );
        let binary = Body::of(None, &[0xff, 0x00]).unwrap();
        assert_eq!(binary, Body::Base64("/wA=".into()));
        assert_eq!(binary.to_bytes().unwrap(), [0xff, 0x00]);
        assert_eq!(Body::of(Some("application/json"), b""), None);
    }

    #[test]
    fn ignored_query_and_body_fields_are_not_compared() {
        let mut tape = HttpTape::default();
        tape.entries.push(HttpEntry::ok(
            "POST",
            "/orders?ts=1",
            Some(Body::Json(json!({"item": "a", "request_id": "r1"}))),
            None,
        ));
        let rules = MatchRules::new(
            BTreeMap::from([(
                "POST /orders".to_owned(),
                vec!["query.ts".to_owned(), "body.request_id".to_owned()],
            )]),
            crate::Redaction::default(),
        );
        let mut matcher = HttpMatcher::new(tape, rules);
        let body = Body::Json(json!({"item": "a", "request_id": "r2"}));
        assert_eq!(
            matcher.find_index("POST", "/orders?ts=2", Some(&body)),
            Ok(0)
        );
    }

    #[test]
    fn a_tape_of_the_other_kind_is_refused_naming_its_format() {
        let dir = tempfile::tempdir().unwrap();
        let grpc = dir.path().join("grpc.json");
        Tape::default().save(&grpc).unwrap();
        let err = HttpTape::load(&grpc, Limits::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("format is \"boost-tape/1\", not \"boost-tape-http/1\""),
            "{err}"
        );
        let http = dir.path().join("http.json");
        HttpTape::default().save(&http).unwrap();
        let err = Tape::load(&http, Limits::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not \"boost-tape/1\""), "{err}");
        assert!(HttpTape::load(&http, Limits::default()).is_ok());
    }

    #[test]
    fn redacted_query_values_are_masked_in_the_url() {
        let fields = vec!["partner".to_owned()];
        assert_eq!(
            mask_url("/q?city=LIS&partner=p1&api_key=s3cr3t", &fields),
            "/q?city=LIS&partner=<redacted>&api_key=<redacted>"
        );
        assert_eq!(
            mask_url("/q?access_token=t", &[]),
            "/q?access_token=<redacted>"
        );
    }

    #[test]
    fn a_form_body_has_its_secret_values_masked_and_is_matched_by_field() {
        let redaction = crate::Redaction::default();
        let mut form = Body::of(
            Some("application/x-www-form-urlencoded"),
            b"grant_type=password&username=bob&password=hunter2&client_secret=s",
        )
        .unwrap();
        form.mask(&redaction);
        assert_eq!(
            form,
            Body::Text(
                "grant_type=password&username=bob&password=<redacted>&client_secret=<redacted>"
                    .into()
            )
        );
        let mut prose = Body::Text("my password is hunter2".into());
        prose.mask(&redaction);
        assert_eq!(prose, Body::Text("my password is hunter2".into()));
        assert_eq!(
            form.comparable(),
            serde_json::json!({
                "grant_type": "password",
                "username": "bob",
                "password": "<redacted>",
                "client_secret": "<redacted>"
            })
        );
    }
}
