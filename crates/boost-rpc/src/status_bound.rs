//! Bounds on what one call's status carries back to its caller, so that no
//! request — however large the input it echoes — makes megabytes of
//! trailers (which a client's HTTP/2 stack may answer by closing the
//! connection every other caller shares).
//!
//! [`ServiceError`](crate::ServiceError) applies them when it becomes a
//! `Status`; the server stack applies them again to every trailers-only
//! answer a handler returns (a handler may build its own `tonic::Status`).

use std::borrow::Cow;

use http::{HeaderMap, HeaderName, HeaderValue};

/// The longest status message sent, in bytes: longer ones are cut on a
/// UTF-8 boundary and end with `… (N bytes)`, N being the original length.
pub const MAX_STATUS_MESSAGE_BYTES: usize = 1024;

/// The largest status details (`grpc-status-details-bin`, before base64)
/// sent, in bytes: a [`ServiceError`](crate::ServiceError) over it sends its
/// reason and domain without metadata; other details over it are dropped.
pub const MAX_STATUS_DETAILS_BYTES: usize = 4096;

/// The longest `ErrorInfo.metadata` value a [`ServiceError`](crate::ServiceError)
/// sends, in bytes, cut like a message.
pub const MAX_ERROR_METADATA_VALUE_BYTES: usize = 256;

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
const GRPC_STATUS_DETAILS: HeaderName = HeaderName::from_static("grpc-status-details-bin");

/// `text` if at most `max` bytes, else its start cut on a UTF-8 boundary
/// plus `… (N bytes)`, all together at most `max` bytes.
pub fn truncate(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let note = format!("… ({} bytes)", text.len());
    let mut cut = max.saturating_sub(note.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(cut + note.len());
    out.push_str(&text[..cut]);
    out.push_str(&note);
    Cow::Owned(out)
}

/// Bounds the status in `headers` (a trailers-only answer, or trailers):
/// the message to [`MAX_STATUS_MESSAGE_BYTES`], the details to
/// [`MAX_STATUS_DETAILS_BYTES`] (dropped beyond).
pub(crate) fn bound_status_headers(headers: &mut HeaderMap) {
    if let Some(message) = headers.get(&GRPC_MESSAGE)
        // Percent-encoding at most triples a byte: under this, nothing to do.
        && message.len() > MAX_STATUS_MESSAGE_BYTES
    {
        let decoded = percent_decode(message.as_bytes());
        let text = String::from_utf8_lossy(&decoded);
        let bounded = truncate(&text, MAX_STATUS_MESSAGE_BYTES);
        if let Ok(value) = HeaderValue::from_bytes(&percent_encode(&bounded)) {
            headers.insert(GRPC_MESSAGE, value);
        }
    }
    // Base64 (unpadded) of MAX_STATUS_DETAILS_BYTES.
    if headers
        .get(&GRPC_STATUS_DETAILS)
        .is_some_and(|v| v.len() > MAX_STATUS_DETAILS_BYTES.div_ceil(3) * 4)
    {
        headers.remove(&GRPC_STATUS_DETAILS);
    }
}

/// Rewrites tonic's answer to a request message over the server's size
/// limit — `OUT_OF_RANGE` "Error, decoded message length too large" from its
/// decoder — into `RESOURCE_EXHAUSTED`, the code the kit documents for every
/// request over `grpc.server.max_request_size` (and what grpc-go and
/// grpc-java answer). Other `OUT_OF_RANGE`s are the handler's and kept.
pub(crate) fn oversized_request_is_resource_exhausted(headers: &mut HeaderMap) {
    const TONIC_TOO_LARGE: &[u8] = b"Error,%20decoded%20message%20length%20too%20large";
    let out_of_range = headers.get(&GRPC_STATUS).is_some_and(|v| v == "11");
    if out_of_range
        && headers
            .get(&GRPC_MESSAGE)
            .is_some_and(|m| m.as_bytes().starts_with(TONIC_TOO_LARGE))
    {
        headers.insert(GRPC_STATUS, HeaderValue::from_static("8"));
    }
}

/// gRPC's `grpc-message` decoding: `%XX` is a byte, anything else itself.
fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// gRPC's `grpc-message` encoding, as tonic writes it: printable ASCII
/// except `%` (and the few tonic also escapes) as is, all else `%XX`.
fn percent_encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for &b in text.as_bytes() {
        if (0x21..=0x7e).contains(&b) && !b"\"#%<>`?{}".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The headers (trailers) `status` is sent as.
    fn headers_of(status: &tonic::Status) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        status.add_header(&mut headers).unwrap();
        headers
    }

    #[test]
    fn truncate_cuts_on_a_char_boundary_and_notes_the_length() {
        assert_eq!(truncate("short", 10), "short");
        let long = "é".repeat(1000); // 2000 bytes
        let cut = truncate(&long, 100);
        assert!(cut.len() <= 100, "{}", cut.len());
        assert!(cut.ends_with("… (2000 bytes)"), "{cut}");
        assert!(cut.starts_with("éé"));
    }

    #[test]
    fn a_huge_status_message_is_bounded_and_still_decodes() {
        let status =
            tonic::Status::not_found(format!("no profile named {}", "ü x".repeat(1 << 18)));
        let mut headers = headers_of(&status);
        bound_status_headers(&mut headers);
        assert!(headers[&GRPC_MESSAGE].len() <= 3 * MAX_STATUS_MESSAGE_BYTES);
        let back = tonic::Status::from_header_map(&headers).unwrap();
        assert_eq!(back.code(), tonic::Code::NotFound);
        assert!(back.message().len() <= MAX_STATUS_MESSAGE_BYTES);
        assert!(
            back.message().starts_with("no profile named ü x"),
            "{}",
            back.message()
        );
        assert!(back.message().ends_with("bytes)"), "{}", back.message());
    }

    #[test]
    fn huge_details_are_dropped_small_ones_kept() {
        let small = tonic::Status::with_details(tonic::Code::NotFound, "x", vec![1u8; 100].into());
        let mut headers = headers_of(&small);
        bound_status_headers(&mut headers);
        assert!(headers.contains_key(&GRPC_STATUS_DETAILS));
        let big =
            tonic::Status::with_details(tonic::Code::NotFound, "x", vec![1u8; 1 << 20].into());
        let mut headers = headers_of(&big);
        bound_status_headers(&mut headers);
        assert!(!headers.contains_key(&GRPC_STATUS_DETAILS));
    }

    #[test]
    fn only_tonics_message_size_refusal_becomes_resource_exhausted() {
        let tonic_refusal = tonic::Status::out_of_range(
            "Error, decoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes",
        );
        let mut headers = headers_of(&tonic_refusal);
        oversized_request_is_resource_exhausted(&mut headers);
        assert_eq!(headers[&GRPC_STATUS], "8");
        let handlers = tonic::Status::out_of_range("page 9 of 3");
        let mut headers = headers_of(&handlers);
        oversized_request_is_resource_exhausted(&mut headers);
        assert_eq!(headers[&GRPC_STATUS], "11");
    }
}
