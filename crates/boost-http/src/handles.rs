//! Histogram handles kept per method and status code, shared by the server's
//! routes and the client's base URLs.
//!
//! Resolving a handle through the `histogram!` macro costs a key allocation
//! and a registry lookup on every request (about 2,000 instructions, more
//! than the rest of the kit's per-request work); a kept handle costs a load.
//! Only the common statuses are kept, so the table stays small (220 slots);
//! a request with another status takes the macro's path.

use std::sync::OnceLock;

use metrics::Histogram;

/// The common statuses, whose histogram handles are kept.
const CACHED_STATUSES: [u16; 22] = [
    200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 429, 500,
    502, 503, 504,
];
/// The `http_request_method` values, in the order of the table's rows.
const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER",
];

/// One set of label values (a route, a base URL) × method × common status.
#[derive(Debug)]
pub(crate) struct HistogramTable {
    slots: Box<[OnceLock<Histogram>]>,
}

impl HistogramTable {
    pub(crate) fn new() -> Self {
        let slots = (0..METHODS.len() * CACHED_STATUSES.len())
            .map(|_| OnceLock::new())
            .collect();
        HistogramTable { slots }
    }

    /// Records `seconds` on the handle of `method` (an `http_request_method`
    /// value) and `status`, made by `make` the first time; a method or status
    /// the table does not keep is recorded through a handle made each time.
    pub(crate) fn record(
        &self,
        method: &str,
        status: u16,
        seconds: f64,
        make: impl FnOnce() -> Histogram,
    ) {
        match self.slot(method, status) {
            Some(slot) => slot.get_or_init(make).record(seconds),
            None => make().record(seconds),
        }
    }

    fn slot(&self, method: &str, status: u16) -> Option<&OnceLock<Histogram>> {
        let m = METHODS.iter().position(|&known| known == method)?;
        let s = CACHED_STATUSES.iter().position(|&known| known == status)?;
        self.slots.get(m * CACHED_STATUSES.len() + s)
    }
}
