//! `/health/live` (the process runs) and `/health/ready` (send me traffic).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AdminState;

/// Always `200` while the process can answer: no dependency is checked, so a
/// failing database never gets the pod restarted.
pub(super) async fn live() -> Response {
    Json(serde_json::json!({ "status": "alive" })).into_response()
}

/// `200` when serving and every readiness check passes; `503` otherwise,
/// including the whole of shutdown.
pub(super) async fn ready(State(state): State<AdminState>) -> Response {
    let report = state.lifecycle.check_readiness().await;
    let status = if report.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}
