//! The checks on a response's metadata (headers or trailers): its size, and
//! whether tonic can parse its status details without panicking.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::{HeaderMap, HeaderName};
use tonic::{Code, Status};

const GRPC_STATUS_DETAILS: HeaderName = HeaderName::from_static("grpc-status-details-bin");
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// The engine tonic 0.14 decodes `grpc-status-details-bin` with
/// (`tonic::util::base64::STANDARD`): a value it refuses, it panics on.
const TONIC_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The size of a header list as HTTP/2 counts it for
/// `SETTINGS_MAX_HEADER_LIST_SIZE` (RFC 9113 §6.5.2): each entry's name and
/// value plus 32. [`scan`] counts the same on its way.
#[cfg(test)]
pub(crate) fn header_list_size(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 32)
        .sum()
}

/// What one pass over a response's headers or trailers finds: every check
/// [`Sanitize`](super::Sanitize) makes, without a hashed lookup per check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scan {
    /// The size of the header list as HTTP/2 counts it for
    /// `SETTINGS_MAX_HEADER_LIST_SIZE` (RFC 9113 §6.5.2): each entry's name
    /// and value plus 32.
    pub(crate) size: usize,
    /// The `grpc-status`, as [`grpc_status`](crate::status_code::grpc_status) reads it.
    pub(crate) status: Option<Code>,
    /// Whether a `grpc-status-details-bin` is present (to be checked by
    /// [`drop_malformed_details`]).
    pub(crate) details: bool,
}

/// Scans `headers` once. Hashing `grpc-status-details-bin` for a lookup costs
/// more than comparing it with the handful of entries a response carries,
/// which the size count visits anyway (callgrind: two lookups of ~185
/// instructions per call saved).
pub(crate) fn scan(headers: &HeaderMap) -> Scan {
    let mut found = Scan {
        size: 0,
        status: None,
        details: false,
    };
    for (name, value) in headers {
        found.size += name.as_str().len() + value.len() + 32;
        if *name == GRPC_STATUS {
            // The first one counts, as for `HeaderMap::get`.
            if found.status.is_none() {
                found.status = Some(Code::from_bytes(value.as_bytes()));
            }
        } else if *name == GRPC_STATUS_DETAILS {
            found.details = true;
        }
    }
    found
}

/// Removes a `grpc-status-details-bin` that is not base64, so that the
/// caller gets the status without its details instead of a panic
/// (`tonic::Status::from_header_map` `expect`s valid base64). Details that
/// are base64 but not a valid `google.rpc.Status` are left: tonic-types
/// decodes them fallibly. Returns whether a value was removed.
pub(crate) fn drop_malformed_details(headers: &mut HeaderMap) -> bool {
    let Some(value) = headers.get(&GRPC_STATUS_DETAILS) else {
        return false;
    };
    if TONIC_BASE64.decode(value.as_bytes()).is_ok() {
        return false;
    }
    headers.remove(&GRPC_STATUS_DETAILS);
    tracing::debug!("upstream sent a grpc-status-details-bin that is not base64; dropped it");
    true
}

/// The status that replaces `what` (`"headers"`, `"trailers"`) of `size`
/// bytes, over the client's `max` bytes.
pub(crate) fn too_large(what: &str, size: usize, max: usize) -> Status {
    Status::resource_exhausted(format!(
        "upstream sent {size} bytes of response {what}, more than this client's \
         max_response_metadata_size ({max} bytes); this call failed, the connection is kept"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_details(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-status", "5".parse().unwrap());
        headers.insert(GRPC_STATUS_DETAILS, value.parse().unwrap());
        headers
    }

    #[test]
    fn details_tonic_would_panic_on_are_dropped_and_the_status_kept() {
        for bad in ["%%%", "!!!", "a", "abcde", "ab=c"] {
            let mut headers = with_details(bad);
            assert!(drop_malformed_details(&mut headers), "{bad}");
            assert!(headers.get(&GRPC_STATUS_DETAILS).is_none());
            let status = Status::from_header_map(&headers).unwrap();
            assert_eq!(status.code(), tonic::Code::NotFound);
        }
    }

    #[test]
    fn valid_details_are_kept_padded_or_not() {
        for good in ["", "CAU", "CAU=", "CAUSAnhj"] {
            let mut headers = with_details(good);
            assert!(!drop_malformed_details(&mut headers), "{good}");
            let _ = Status::from_header_map(&headers).unwrap();
        }
    }

    #[test]
    fn one_scan_finds_what_the_separate_checks_find() {
        let mut headers = with_details("CAU");
        headers.insert("content-type", "application/grpc".parse().unwrap());
        let found = scan(&headers);
        assert_eq!(found.size, header_list_size(&headers));
        assert_eq!(found.status, crate::status_code::grpc_status(&headers));
        assert!(found.details);
        headers.remove(GRPC_STATUS_DETAILS);
        headers.remove(GRPC_STATUS);
        let found = scan(&headers);
        assert_eq!((found.status, found.details), (None, false));
        assert_eq!(found.size, header_list_size(&headers));
    }

    #[test]
    fn header_list_size_counts_as_http2_does() {
        let headers = with_details("CAU");
        assert_eq!(
            header_list_size(&headers),
            "grpc-status".len() + 1 + 32 + "grpc-status-details-bin".len() + 3 + 32
        );
    }
}
