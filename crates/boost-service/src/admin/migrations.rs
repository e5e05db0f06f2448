//! `GET /migrations`: the migrations of `database.migrations` and where
//! each stands in the database (applied, pending, checksum_mismatch,
//! failed, missing), read only. JSON, no credentials.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::AdminState;
use super::problem::{json, problem};

pub(super) async fn status(State(state): State<AdminState>) -> Response {
    let Some((db, dir)) = &state.migrations else {
        return problem(
            StatusCode::NOT_FOUND,
            "this service applies no migrations: database.migrations is not set",
            None,
        );
    };
    match boost_db::MigrationReport::read(dir, Some(db)).await {
        Ok(report) => json(StatusCode::OK, &report),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), None),
    }
}
