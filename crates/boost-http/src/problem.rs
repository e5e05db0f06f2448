//! [`Problem`]: an error answer as RFC 9457 `application/problem+json`.
//!
//! A handler returns `Result<_, Problem>` and uses `?` on the kit's
//! [`ServiceError`]: the caller gets the matching status and a body such as
//!
//! ```json
//! {"type":"about:blank","title":"Not Found","status":404,
//!  "detail":"no profile named \"bob\"","request_id":"5f0c…"}
//! ```
//!
//! An internal error (`ServiceError::internal`) answers `500` with
//! `"detail": "internal error"`; its source is logged (with the request id),
//! never sent. A `ServiceError` whose reason is its own (not the code's
//! name, e.g. `PROFILE_NOT_FOUND`) gets the problem type
//! `urn:problem:PROFILE_NOT_FOUND` and a `reason` member, for clients to match on.
//!
//! ```
//! use axum::{Json, extract::Path};
//! use boost_http::Problem;
//! use boost_rpc::ServiceError;
//!
//! async fn profile(Path(name): Path<String>) -> Result<Json<serde_json::Value>, Problem> {
//!     if name.len() > 64 {
//!         return Err(ServiceError::invalid_argument("name is longer than 64 bytes").into());
//!     }
//!     Err(ServiceError::not_found(format!("no profile named {name:?}"))
//!         .with_reason("PROFILE_NOT_FOUND"))?
//! }
//! # let _ = profile;
//! ```

use std::borrow::Cow;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use boost_rpc::ServiceError;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// The media type of a problem body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Longest `detail` a problem carries; longer text is cut (at a character
/// boundary), so an input echoed in a message cannot make a huge answer.
const MAX_DETAIL: usize = 1024;

/// An error answer: status, title, detail and the request id, rendered as
/// `application/problem+json` (RFC 9457).
///
/// Return `Result<_, Problem>` from a handler and use `?` on a
/// [`ServiceError`]: the status follows its gRPC code (`NOT_FOUND` → 404),
/// `detail` is its message, and an internal error answers `500` with
/// `"detail": "internal error"` (its source is logged with the request id,
/// never sent). A reason of its own (`PROFILE_NOT_FOUND`) becomes the type
/// `urn:problem:PROFILE_NOT_FOUND` and a `reason` member.
///
/// ```
/// use boost_http::Problem;
/// use boost_rpc::ServiceError;
///
/// let problem = Problem::from(ServiceError::not_found("no profile named \"bob\""));
/// assert_eq!(problem.status(), http::StatusCode::NOT_FOUND);
/// assert_eq!(problem.detail(), Some("no profile named \"bob\""));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    kind: Cow<'static, str>,
    title: Cow<'static, str>,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<Cow<'static, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(skip)]
    retry_after: Option<u64>,
}

impl Problem {
    /// A problem of type `about:blank` with `status` and its reason phrase as
    /// the title; the request id of the request being served, if any.
    pub fn new(status: StatusCode) -> Self {
        Problem {
            kind: Cow::Borrowed("about:blank"),
            title: Cow::Borrowed(status.canonical_reason().unwrap_or("Error")),
            status: status.as_u16(),
            detail: None,
            reason: None,
            field: None,
            request_id: boost_rpc::server::current_request_id().map(|id| id.as_str().to_owned()),
            retry_after: None,
        }
    }

    /// Sets the human-readable `detail` (cut to 1 KiB). Never put internals
    /// (errors of libraries, SQL, paths) here: callers read it.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        let mut detail = detail.into();
        if detail.len() > MAX_DETAIL {
            let mut end = MAX_DETAIL;
            while !detail.is_char_boundary(end) {
                end -= 1;
            }
            detail.truncate(end);
        }
        self.detail = Some(detail);
        self
    }

    /// Names the request field at fault (a `field` member), so a client can
    /// point at it: `Problem::new(StatusCode::BAD_REQUEST).with_field("reason")`.
    #[must_use]
    pub fn with_field(mut self, field: impl Into<Cow<'static, str>>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The `field` member, if any.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// Adds `Retry-After` (whole seconds, rounded up) to the answer.
    #[must_use]
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        let secs = after
            .as_secs()
            .saturating_add(u64::from(after.subsec_nanos() > 0));
        self.retry_after = Some(secs.max(1));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The `detail` member, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// Sets the `request_id` member from a request's `x-request-id` value
    /// when none is set yet (problems made before the request id is in
    /// scope, e.g. a load-shedding refusal).
    pub(crate) fn or_request_id(mut self, id: Option<&http::HeaderValue>) -> Self {
        if self.request_id.is_none() {
            self.request_id = id.and_then(|id| id.to_str().ok()).map(str::to_owned);
        }
        self
    }

    /// The `request_id` member, if any.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The body as JSON text.
    pub fn to_json(&self) -> String {
        // A struct of strings and a number always serialises.
        serde_json::to_string(self).unwrap_or_else(|_| {
            format!(
                "{{\"type\":\"about:blank\",\"title\":\"Error\",\"status\":{}}}",
                self.status
            )
        })
    }
}

impl From<ServiceError> for Problem {
    fn from(error: ServiceError) -> Self {
        let mut problem = Problem::new(error.http_status());
        if error.is_internal() {
            // The source is for the logs only; the caller quotes the request id.
            let source = std::error::Error::source(&error)
                .map(ToString::to_string)
                .unwrap_or_default();
            tracing::error!(error = %source, request_id = problem.request_id.as_deref().unwrap_or(""),
                "handler failed with an internal error; the caller got 500 without details");
            return problem.with_detail("internal error");
        }
        let code_name = boost_metrics::conventions::GRPC_STATUS_CODE_NAMES
            .get(error.code() as usize)
            .copied()
            .unwrap_or("");
        if !error.reason().is_empty() && error.reason() != code_name {
            problem.kind = Cow::Owned(format!("urn:problem:{}", error.reason()));
            problem.reason = Some(error.reason().to_owned());
        }
        problem.with_detail(error.message())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status(), self.to_json()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_map_to_status_and_safe_detail() {
        let p = Problem::from(ServiceError::not_found("no such car"));
        assert_eq!(p.status(), StatusCode::NOT_FOUND);
        let json: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
        assert_eq!(json["type"], "about:blank");
        assert_eq!(json["title"], "Not Found");
        assert_eq!(json["status"], 404);
        assert_eq!(json["detail"], "no such car");

        let p = Problem::from(ServiceError::internal(std::io::Error::other(
            "password=hunter2 at db.internal:5432",
        )));
        assert_eq!(p.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!p.to_json().contains("hunter2"), "{}", p.to_json());
        assert!(!p.to_json().contains("db.internal"));
    }

    #[test]
    fn own_reasons_become_the_type() {
        let p = Problem::from(ServiceError::not_found("x").with_reason("CAR_NOT_FOUND"));
        let json: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
        assert_eq!(json["type"], "urn:problem:CAR_NOT_FOUND");
        assert_eq!(json["reason"], "CAR_NOT_FOUND");
    }

    #[test]
    fn a_field_at_fault_is_a_member_only_when_named() {
        let named = Problem::new(StatusCode::BAD_REQUEST).with_field("reason");
        assert_eq!(named.field(), Some("reason"));
        assert!(
            named.to_json().contains(r#""field":"reason""#),
            "{}",
            named.to_json()
        );
        assert!(
            !Problem::new(StatusCode::BAD_REQUEST)
                .to_json()
                .contains("field")
        );
    }

    #[test]
    fn detail_is_bounded_and_retry_after_rounds_up() {
        let p = Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .with_detail("é".repeat(2000))
            .with_retry_after(Duration::from_millis(1500));
        assert!(p.detail().unwrap().len() <= MAX_DETAIL);
        let response = p.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }
}
