//! The label values of `http_server_request_duration_seconds`, bounded so a
//! caller cannot mint series: known methods or `_OTHER`, the matched route
//! template or `unmatched`.

use axum::extract::MatchedPath;
use boost_metrics::conventions::{HTTP_METHOD_OTHER, HTTP_ROUTE_UNMATCHED};
use http::{Method, Request};

/// The `http_request_method` value: the RFC 9110 methods and `PATCH` as
/// themselves, anything else `_OTHER` (OpenTelemetry's rule).
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => HTTP_METHOD_OTHER,
    }
}

/// The route template axum matched (`/v1/hello/{name}`), or `None` when no
/// route matched (the router's fallback answers).
pub(crate) fn matched_route<B>(req: &Request<B>) -> Option<MatchedPath> {
    // An `Arc<str>` inside: the clone does not copy the template.
    req.extensions().get::<MatchedPath>().cloned()
}

/// The `http_route` value: the template, else `unmatched`.
pub(crate) fn route_label(route: Option<&str>) -> &str {
    route.unwrap_or(HTTP_ROUTE_UNMATCHED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_fold_into_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let odd = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "_OTHER");
    }

    #[test]
    fn unmatched_requests_share_one_route_value() {
        let req = Request::new(());
        assert_eq!(
            route_label(matched_route(&req).as_ref().map(MatchedPath::as_str)),
            "unmatched"
        );
    }
}
