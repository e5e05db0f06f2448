//! HTTP/2 gRPC messages ⇄ the parts of a tape entry.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Response};
use http_body::Frame;
use http_body_util::{BodyExt as _, Limited, StreamBody};
use tonic::body::Body;
use tonic::{Code, Status};

use boost_tape::Redaction;

use crate::status_code::{code_name, parse_code};

/// Request headers never written to a tape: the transport's, and the ones
/// the kit or tonic set per call (they differ on every run).
const REQUEST_SKIP: [&str; 11] = [
    "te",
    "content-type",
    "content-length",
    "user-agent",
    "grpc-timeout",
    "grpc-accept-encoding",
    "grpc-encoding",
    "traceparent",
    "tracestate",
    "baggage",
    "x-request-id",
];

/// Response headers and trailers never written: the transport's, the
/// per-call ids a kit server echoes (they differ on every run), and the
/// status, which the entry holds as `code` and `message`.
const RESPONSE_SKIP: [&str; 11] = [
    "x-request-id",
    "traceparent",
    "tracestate",
    "content-type",
    "content-length",
    "date",
    "server",
    "grpc-accept-encoding",
    "grpc-encoding",
    "grpc-status",
    "grpc-message",
];

/// The call's metadata as a tape holds it: skipped names left out, several
/// values joined by `, `, values that are not text left out, secrets masked.
fn metadata(headers: &HeaderMap, skip: &[&str], redaction: &Redaction) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        if skip.contains(&name.as_str()) {
            continue;
        }
        let Ok(value) = value.to_str() else { continue };
        out.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    redaction.mask_metadata(&mut out);
    out
}

/// The request metadata worth recording.
pub(super) fn request_metadata(
    headers: &HeaderMap,
    redaction: &Redaction,
) -> BTreeMap<String, String> {
    metadata(headers, &REQUEST_SKIP, redaction)
}

/// The response metadata (or trailers) worth recording.
pub(super) fn response_metadata(
    headers: &HeaderMap,
    redaction: &Redaction,
) -> BTreeMap<String, String> {
    metadata(headers, &RESPONSE_SKIP, redaction)
}

/// `body` in one buffer, refused past `limit` bytes.
pub(super) async fn collect(
    body: Body,
    limit: usize,
) -> Result<(Bytes, Option<HeaderMap>), Status> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => {
            let trailers = collected.trailers().cloned();
            Ok((collected.to_bytes(), trailers))
        }
        Err(e) => Err(match e.downcast::<Status>() {
            Ok(status) => *status,
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                Status::resource_exhausted(format!(
                    "the call's messages are over the tape's max_message_size of {limit} bytes"
                ))
            }
            Err(e) => Status::internal(format!("reading the call's body failed: {e}")),
        }),
    }
}

/// The recorded status of a response: from its headers (trailers-only) or
/// its trailers; a response with neither is `UNKNOWN`, as gRPC says.
pub(super) fn status_of(headers: &HeaderMap, trailers: Option<&HeaderMap>) -> Status {
    Status::from_header_map(headers)
        .or_else(|| trailers.and_then(Status::from_header_map))
        .unwrap_or_else(|| Status::unknown("the upstream sent no grpc-status"))
}

/// The name of `code` as a tape writes it.
pub(super) fn name_of(code: Code) -> String {
    code_name(code).to_owned()
}

/// The code a tape names, `None` when it names none.
pub(super) fn code_of(name: &str) -> Option<Code> {
    parse_code(name)
}

fn insert_all(headers: &mut HeaderMap, metadata: &BTreeMap<String, String>) {
    for (name, value) in metadata {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
}

fn grpc_headers(metadata: &BTreeMap<String, String>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    insert_all(&mut headers, metadata);
    headers
}

/// A trailers-only answer: `status` and `metadata` in the headers, no body —
/// what a gRPC server sends for a call it fails at once.
pub(super) fn trailers_only(
    status: &Status,
    metadata: &BTreeMap<String, String>,
) -> Response<Body> {
    let mut headers = grpc_headers(metadata);
    // Only fails for a message that is not valid header text once
    // percent-encoded, which cannot happen.
    let _ = status.add_header(&mut headers);
    let mut response = Response::new(Body::empty());
    *response.headers_mut() = headers;
    response
}

/// An answer with `frames` as its body and `status` plus `trailers` as its
/// trailers.
pub(super) fn with_body(
    metadata: &BTreeMap<String, String>,
    frames: Bytes,
    status: &Status,
    trailers: &BTreeMap<String, String>,
) -> Response<Body> {
    let mut end = HeaderMap::new();
    insert_all(&mut end, trailers);
    let _ = status.add_header(&mut end);
    let mut response = Response::new(replayed_body(frames, Some(end)));
    *response.headers_mut() = grpc_headers(metadata);
    response
}

/// A body of `data` then `trailers`.
pub(super) fn replayed_body(data: Bytes, trailers: Option<HeaderMap>) -> Body {
    let mut frames: Vec<Result<Frame<Bytes>, Status>> = Vec::with_capacity(2);
    if !data.is_empty() {
        frames.push(Ok(Frame::data(data)));
    }
    if let Some(trailers) = trailers {
        frames.push(Ok(Frame::trailers(trailers)));
    }
    Body::new(StreamBody::new(futures::stream::iter(frames)))
}
