//! `GET /loglevel` (the filter in force) and `PUT /loglevel` (replace it; needs
//! the admin token; audited).

use std::time::SystemTime;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::auth::{AUDIT_TARGET, Authorized};
use super::{AdminState, text};

const NO_CONTROL: &str = "log level control is off: this service did not start tracing \
                          (ServiceBuilder::without_telemetry) and none was given \
                          (ServiceBuilder::log_level_control)\n";

pub(super) async fn get(State(state): State<AdminState>) -> Response {
    match &state.log_level {
        Some(control) => text(StatusCode::OK, format!("{}\n", control.current())),
        None => text(StatusCode::NOT_IMPLEMENTED, NO_CONTROL),
    }
}

pub(super) async fn put(
    State(state): State<AdminState>,
    caller: Authorized,
    body: String,
) -> Response {
    let Some(control) = &state.log_level else {
        return text(StatusCode::NOT_IMPLEMENTED, NO_CONTROL);
    };
    let new = body.trim();
    if new.is_empty() {
        return text(
            StatusCode::BAD_REQUEST,
            "send the new filter as the request body, e.g. `info,hello_service=debug`\n",
        );
    }
    let old = control.current();
    // Logged before the change, under the filter in force now: a new filter
    // that silences audit events cannot hide its own introduction.
    tracing::warn!(target: AUDIT_TARGET, who = %caller.token_id, peer = %caller.peer,
        what = "log filter", old = %old, new = %new, outcome = "requested",
        at = %humantime::format_rfc3339_millis(SystemTime::now()),
        "admin change requested: log filter {old:?} -> {new:?}");
    if let Err(e) = control.set(new) {
        tracing::warn!(target: AUDIT_TARGET, who = %caller.token_id, peer = %caller.peer,
            what = "log filter", old = %old, new = %new, outcome = "invalid", error = %e,
            at = %humantime::format_rfc3339_millis(SystemTime::now()),
            "admin change refused: invalid log filter");
        return text(
            StatusCode::BAD_REQUEST,
            format!("{e}; the filter stays {old:?}\n"),
        );
    }
    let now = control.current();
    tracing::warn!(target: AUDIT_TARGET, who = %caller.token_id, peer = %caller.peer,
        what = "log filter", old = %old, new = %now, outcome = "changed",
        at = %humantime::format_rfc3339_millis(SystemTime::now()),
        "admin change: log filter {old:?} -> {now:?}");
    text(StatusCode::OK, format!("{now}\n"))
}
