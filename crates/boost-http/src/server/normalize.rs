//! Error answers that are not problem+json yet become one.
//!
//! axum's rejections (a bad JSON body: `400`/`422`/`415`; a body over the
//! limit: `413`), its `405`, the router's empty `404`, and a handler's bare
//! `StatusCode` all answer in plain text or with no body. A client of the
//! service should see one error format, so an error response (`4xx`/`5xx`)
//! whose body is empty or short plain text is rewritten as
//! `application/problem+json` with the same status and headers: the text
//! becomes `detail` for a `4xx` (it describes the caller's mistake) and is
//! dropped for a `5xx` (it may describe internals). Other bodies (JSON,
//! HTML, anything long) pass unchanged.

use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::response::Parts;
use http_body::Body as _;
use http_body_util::BodyExt;

use crate::Problem;
use crate::problem::PROBLEM_JSON;

/// Plain-text error bodies up to this size are read and rewritten.
const MAX_TEXT: u64 = 4096;

/// [`problem_json`]'s answer: the response now, or (to read a short text
/// body into `detail`) a future of it.
pub(crate) enum Normalized {
    /// Passed through or converted without reading the body.
    Done(Response),
    /// A `4xx` with a short plain-text body: its text becomes `detail`.
    Reading(BoxFuture<'static, Response>),
}

/// `response`, as problem+json if it is a bare or plain-text error. Only a
/// `4xx` with a short text body needs its body read (and a boxed future);
/// every other answer is decided at once.
pub(crate) fn problem_json(response: Response) -> Normalized {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Normalized::Done(response);
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with(PROBLEM_JSON) {
        return Normalized::Done(response);
    }
    let hint = response.body().size_hint();
    let empty = hint.exact() == Some(0);
    let short_text = content_type.starts_with("text/plain")
        && hint.upper().is_some_and(|upper| upper <= MAX_TEXT);
    if !(empty || short_text) {
        return Normalized::Done(response);
    }
    let (parts, body) = response.into_parts();
    let problem = Problem::new(status);
    if !(short_text && status.is_client_error()) {
        // 5xx text may describe internals: not passed on.
        return Normalized::Done(replace_body(parts, problem));
    }
    Normalized::Reading(Box::pin(async move {
        let mut problem = problem;
        if let Ok(collected) = body.collect().await {
            let text = String::from_utf8_lossy(&collected.to_bytes())
                .trim()
                .to_owned();
            if !text.is_empty() {
                problem = problem.with_detail(text);
            }
        }
        replace_body(parts, problem)
    }))
}

/// The response with `problem` as its body and content headers.
fn replace_body(mut parts: Parts, problem: Problem) -> Response {
    let rendered = problem.into_response();
    parts.headers.remove(CONTENT_LENGTH);
    for (name, value) in rendered.headers() {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, rendered.into_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    async fn problem_json(response: Response) -> Response {
        match super::problem_json(response) {
            Normalized::Done(response) => response,
            Normalized::Reading(reading) => reading.await,
        }
    }

    async fn body_of(response: Response) -> serde_json::Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn bare_and_text_errors_become_problems() {
        let response = problem_json(StatusCode::NOT_FOUND.into_response()).await;
        assert_eq!(response.headers()[CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(body_of(response).await["status"], 404);

        let text = (StatusCode::UNPROCESSABLE_ENTITY, "missing field `name`").into_response();
        let response = problem_json(text).await;
        assert_eq!(body_of(response).await["detail"], "missing field `name`");

        let internal = (StatusCode::INTERNAL_SERVER_ERROR, "db password wrong").into_response();
        let json = body_of(problem_json(internal).await).await;
        assert!(
            json.get("detail").is_none(),
            "5xx text is not passed on: {json}"
        );
    }

    #[tokio::test]
    async fn successes_and_json_errors_pass_unchanged() {
        let ok = problem_json("fine".into_response()).await;
        assert_eq!(ok.status(), StatusCode::OK);
        let json = (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"e": 1})),
        )
            .into_response();
        let out = problem_json(json).await;
        assert_eq!(out.headers()[CONTENT_TYPE], "application/json");
    }
}
