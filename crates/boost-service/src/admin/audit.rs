//! `GET /audit?limit=N`: the most recent audit records, oldest first.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::AdminState;
use super::problem::{json, problem};

/// Records shown when no `limit` is given.
const DEFAULT_LIMIT: usize = 100;

#[derive(Deserialize)]
pub(super) struct Params {
    limit: Option<String>,
}

pub(super) async fn recent(
    State(state): State<AdminState>,
    Query(params): Query<Params>,
) -> Response {
    let limit = match params.limit.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(limit)) if limit > 0 => limit,
        Some(_) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "limit must be a whole number of records, at least 1 (at most audit.recent are kept)",
                Some("limit"),
            );
        }
    };
    let records = state.audit.recent(limit);
    json(
        StatusCode::OK,
        &serde_json::json!({
            "file": state.audit.path().map(|p| p.display().to_string()),
            "records": records,
        }),
    )
}
