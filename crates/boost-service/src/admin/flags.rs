//! `GET /flags` (every switch and who changed it) and `PUT /flags/{name}`
//! (change one; needs the admin token; audited, refusals too).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use boost_audit::AuditRecord;
use boost_switches::ChangeError;

use super::AdminState;
use super::auth::Authorized;
use super::flags_body::{self, BadField};
use super::problem::{json, problem};

pub(super) async fn list(State(state): State<AdminState>) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({
            "service": state.identity.name,
            "switches": state.switches.list(),
        }),
    )
}

pub(super) async fn put(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    caller: Authorized,
    body: String,
) -> Response {
    let switches = &state.switches;
    let Some(kind) = switches.kind(&name) else {
        let detail = format!(
            "no switch {:?} is declared; GET /flags lists them",
            name.chars().take(64).collect::<String>()
        );
        refuse(&state, &caller, &name, "not_found", &detail).await;
        return problem(StatusCode::NOT_FOUND, &detail, None);
    };
    let change = match flags_body::parse(&body, kind) {
        Ok(change) => change,
        Err(BadField {
            field,
            problem: what,
        }) => {
            let detail = format!("{field}: {what}");
            switches.count_refused(&name);
            refuse(&state, &caller, &name, "invalid", &detail).await;
            return problem(StatusCode::BAD_REQUEST, &detail, Some(field));
        }
    };
    let change = change.caller(caller.token_id.clone(), caller.peer.clone());
    // In a task of its own: a request dropped halfway (the client hangs up,
    // admin.request_timeout) must not split storing a change from its
    // audit record.
    let changing = {
        let (switches, name) = (switches.clone(), name.clone());
        tokio::spawn(async move { switches.set(&name, change).await })
    };
    let Ok(result) = changing.await else {
        return problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the change failed inside the service; GET /flags shows the state in force",
            None,
        );
    };
    match result {
        Ok(view) => json(StatusCode::OK, &view),
        Err(ChangeError::Invalid {
            field,
            problem: what,
        }) => {
            let detail = format!("{field}: {what}");
            refuse(&state, &caller, &name, "invalid", &detail).await;
            problem(StatusCode::BAD_REQUEST, &detail, Some(field))
        }
        Err(e @ ChangeError::Unknown { .. }) => {
            problem(StatusCode::NOT_FOUND, &e.to_string(), None)
        }
        // Already audited by the store (`unavailable`), or not auditable.
        Err(e) => problem(StatusCode::SERVICE_UNAVAILABLE, &e.to_string(), None),
    }
}

/// Audits a refused change: the refusal is part of the trail. Written off
/// the runtime's workers (an fsync); nothing is undone if the request is
/// dropped meanwhile, as nothing changed.
async fn refuse(state: &AdminState, caller: &Authorized, name: &str, outcome: &str, detail: &str) {
    let record = AuditRecord::new("switch.set", name, outcome)
        .token(caller.token_id.clone())
        .peer(caller.peer.clone())
        .reason(detail);
    if let Err(e) = state.audit.record_async(record).await {
        tracing::error!(error = %e, "could not write the audit record of a refused switch change");
    }
}
