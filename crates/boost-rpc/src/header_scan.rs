//! Looking up one header in the small maps requests and responses carry.
//!
//! A hashed `HeaderMap::get` costs ~100 instructions for a standard name and
//! ~190 for a custom one (callgrind); comparing names along a map of a dozen
//! entries costs less (a standard name compares as a small integer, a custom
//! one by length first), and the server layers ask for `content-type` and
//! `grpc-timeout` on every call. Larger maps keep the hashed lookup.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Maps with at most this many values are scanned.
const SCAN_MAX: usize = 12;

/// The first value of `name` in `headers`, as `headers.get(name)` finds it.
#[inline]
pub(crate) fn get<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a HeaderValue> {
    if headers.len() > SCAN_MAX {
        return headers.get(name);
    }
    headers
        .iter()
        .find_map(|(n, value)| (n == name).then_some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{CONTENT_LENGTH, CONTENT_TYPE};

    #[test]
    fn finds_what_get_finds_in_small_and_large_maps() {
        let custom = HeaderName::from_static("x-request-id");
        for extra in [0, 5, SCAN_MAX + 3] {
            let mut headers = HeaderMap::new();
            for i in 0..extra {
                headers.insert(
                    HeaderName::try_from(format!("x-filler-{i}")).unwrap(),
                    HeaderValue::from(i),
                );
            }
            assert_eq!(get(&headers, &CONTENT_TYPE), None);
            headers.append(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
            headers.append(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            headers.insert(custom.clone(), HeaderValue::from_static("abc"));
            for name in [&CONTENT_TYPE, &custom, &CONTENT_LENGTH] {
                assert_eq!(
                    get(&headers, name),
                    headers.get(name),
                    "{name} with {extra}"
                );
            }
        }
    }
}
