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
    // The change and its record together, on the blocking pool: the record
    // is an fsync (off the runtime's workers), and a blocking task runs to
    // its end even when the request is dropped, so no filter stays in force
    // unaudited.
    let applied = {
        let (control, audit) = (control.clone(), state.audit.clone());
        let (new, old, changed) = (new.to_owned(), old.clone(), record("changed"));
        tokio::task::spawn_blocking(move || {
            if let Err(e) = control.set(&new) {
                return Applied::Invalid(e.to_string());
            }
            let now = control.current();
            match audit.record(changed.change(old.clone(), now.clone())) {
                Ok(_) => Applied::Changed(now),
                Err(e) => {
                    // An unaudited change is not made: the old filter goes back.
                    let restored = control.set(&old).is_ok();
                    Applied::Unaudited {
                        error: e.to_string(),
                        restored,
                    }
                }
            }
        })
        .await
    };
    match applied {
        Ok(Applied::Changed(now)) => text(StatusCode::OK, format!("{now}\n")),
        Ok(Applied::Invalid(error)) => {
            audit(
                &state,
                record("invalid")
                    .change(old.clone(), new)
                    .reason(error.clone()),
            )
            .await;
            text(
                StatusCode::BAD_REQUEST,
                format!("{error}; the filter stays {old:?}\n"),
            )
        }
        Ok(Applied::Unaudited { error, restored }) => {
            tracing::error!(error = %error, restored,
                "the audit record of a log filter change could not be written; the change is undone");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the audit record could not be written ({error}), so the filter stays {old:?}\n"
                ),
            )
        }
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "the change failed inside the service ({e}); GET /loglevel shows the filter in force\n"
            ),
        ),
    }
}

/// What a filter change came to.
enum Applied {
    Changed(String),
    Invalid(String),
    Unaudited { error: String, restored: bool },
}

/// Audits a refused change, off the runtime's workers (an fsync).
async fn audit(state: &AdminState, record: AuditRecord) {
    if let Err(e) = state.audit.record_async(record).await {
        tracing::error!(error = %e, "could not write the audit record of a log filter change");
    }
}
