//! Request bodies are read before a request takes one of the admin's handler
//! slots, within `admin.body_timeout` (nginx's `client_body_timeout`) and
//! [`MAX_BODY`]: a client sending slowly holds only its own connection.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::text;

/// Largest admin request body (a log filter, a flag value): `413` beyond it.
pub(crate) const MAX_BODY: usize = 16 * 1024;

/// Buffers the body (at most [`MAX_BODY`]) within `deadline`: `408` when it
/// does not arrive in time, `413` when it is too large.
pub(super) async fn read_body(
    State(deadline): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let collected = tokio::time::timeout(deadline, Limited::new(body, MAX_BODY).collect()).await;
    let path = parts.uri.path().to_owned();
    let refusal = match collected {
        Ok(Ok(body)) => {
            return next
                .run(Request::from_parts(parts, Body::from(body.to_bytes())))
                .await;
        }
        Err(_) => {
            tracing::info!(path = %path, "admin request body did not arrive within {deadline:?} (admin.body_timeout); answered 408");
            text(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {deadline:?} (admin.body_timeout)\n"
                ),
            )
        }
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("admin request bodies are at most {MAX_BODY} bytes\n"),
        ),
        Ok(Err(_)) => text(
            StatusCode::BAD_REQUEST,
            "the request body could not be read\n",
        ),
    };
    close(refusal)
}

/// Asks the server to close the connection after this response: what is left
/// of the body must not be read as the next request.
pub(super) fn close(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
