//! Headers as a tape holds them: the per-run ones left out, secrets masked.

use std::collections::BTreeMap;

use boost_tape::Redaction;
use http::HeaderMap;
use http::header::CONTENT_TYPE;

/// Request headers that change on every run (or are the kit's own): never
/// recorded.
pub(super) const PER_RUN_REQUEST: [&str; 4] = ["traceparent", "tracestate", "x-request-id", "date"];
/// Response headers that change on every run or describe the connection:
/// never recorded (a replayed JSON body is re-encoded, so its length too).
pub(super) const PER_RUN_RESPONSE: [&str; 10] = [
    "date",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "traceparent",
    "tracestate",
    "x-request-id",
    "server-timing",
    "age",
];

/// `headers` as a tape holds them: per-run ones left out, secrets
/// masked, several values of one name joined with `, `.
pub(super) fn recorded(
    headers: &HeaderMap,
    per_run: &[&str],
    deadline_header: Option<&str>,
    redaction: &Redaction,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::<String, String>::new();
    for (name, value) in headers {
        let name = name.as_str();
        if per_run.contains(&name) || deadline_header == Some(name) {
            continue;
        }
        let value =
            if redaction.is_secret_header(name) || crate::client::is_secret_header_name(name) {
                boost_tape::REDACTED.to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
        out.entry(name.to_owned())
            .and_modify(|v| {
                if v != boost_tape::REDACTED {
                    v.push_str(", ");
                    v.push_str(&value);
                }
            })
            .or_insert(value);
    }
    out
}

/// The `content-type` of `headers`, when it is text.
pub(super) fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
}
