//! `application/problem+json` (RFC 9457) answers for the JSON endpoints.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A problem answer: `detail` says what is wrong and what to send instead;
/// `field`, when given, names the request field at fault.
pub(super) fn problem(status: StatusCode, detail: &str, field: Option<&str>) -> Response {
    let mut body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    if let (Some(field), Some(object)) = (field, body.as_object_mut()) {
        object.insert("field".to_owned(), serde_json::Value::from(field));
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
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
