//! `GET /runbook`: the service's runbook, Markdown, rendered at start.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AdminState;

pub(super) async fn runbook(State(state): State<AdminState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        state.runbook.clone(),
    )
        .into_response()
}
