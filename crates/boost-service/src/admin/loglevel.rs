//! `GET /loglevel` (the filter in force) and `PUT /loglevel` (replace it; needs
//! the admin token; audited).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use boost_audit::AuditRecord;

use super::auth::Authorized;
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
        let record = AuditRecord::new("loglevel.set", "log filter", "invalid")
            .token(caller.token_id.clone())
            .peer(caller.peer.clone())
            .reason("empty body");
        audit(&state, record).await;
        return text(
            StatusCode::BAD_REQUEST,
            "send the new filter as the request body, e.g. `info,hello_service=debug`\n",
        );
    }
    let old = control.current();
    let record = |outcome: &str| {
        AuditRecord::new("loglevel.set", "log filter", outcome)
            .token(caller.token_id.clone())
            .peer(caller.peer.clone())
    };
    if let Err(e) = control.set(new) {
        audit(
            &state,
            record("invalid")
                .change(old.clone(), new)
                .reason(e.to_string()),
        )
        .await;
        return text(
            StatusCode::BAD_REQUEST,
            format!("{e}; the filter stays {old:?}\n"),
        );
    }
    let now = control.current();
    if let Err(e) = state
        .audit
        .record(record("changed").change(old.clone(), now.clone()))
    {
        // An unaudited change is not made: the old filter goes back.
        let restored = control.set(&old);
        tracing::error!(error = %e, restored = restored.is_ok(),
            "the audit record of a log filter change could not be written; the change is undone");
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the audit record could not be written ({e}), so the filter stays {old:?}\n"),
        );
    }
    text(StatusCode::OK, format!("{now}\n"))
}

/// Audits a refused change, off the runtime's workers (an fsync). The
/// accepted change is recorded in line instead: a request dropped while its
/// record is written must not leave an unaudited filter in force.
async fn audit(state: &AdminState, record: AuditRecord) {
    if let Err(e) = state.audit.record_async(record).await {
        tracing::error!(error = %e, "could not write the audit record of a log filter change");
    }
}
