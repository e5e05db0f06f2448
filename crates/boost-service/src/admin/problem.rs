//! `application/problem+json` (RFC 9457) and JSON answers for the JSON
//! endpoints, through boost-http's [`Problem`] (one problem format for the
//! kit's HTTP services and its admin server).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use boost_http::Problem;

/// A problem answer: `detail` says what is wrong and what to send instead;
/// `field`, when given, names the request field at fault.
pub(super) fn problem(status: StatusCode, detail: &str, field: Option<&'static str>) -> Response {
    let problem = Problem::new(status).with_detail(detail);
    match field {
        Some(field) => problem.with_field(field),
        None => problem,
    }
    .into_response()
}

/// A JSON answer.
pub(super) fn json(status: StatusCode, value: &impl serde::Serialize) -> Response {
    match serde_json::to_string_pretty(value) {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body + "\n",
        )
            .into_response(),
        Err(e) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the answer could not be encoded: {e}"),
            None,
        ),
    }
}
