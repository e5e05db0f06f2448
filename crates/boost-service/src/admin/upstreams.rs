//! `GET /upstreams`: each kit client's endpoints and their ejection state,
//! its client-side throttle and its retry budget (read-only).

use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use boost_rpc::upstreams::{Upstream, UpstreamEndpoint};
use serde_json::{Value, json};

use super::AdminState;
use super::problem::json as json_response;

pub(super) async fn list(State(state): State<AdminState>) -> Response {
    let now = SystemTime::now();
    let upstreams: Vec<Value> = state
        .upstreams
        .snapshot()
        .iter()
        .map(|u| upstream(u, now))
        .collect();
    json_response(StatusCode::OK, &json!({ "upstreams": upstreams }))
}

fn upstream(u: &Upstream, now: SystemTime) -> Value {
    json!({
        "kind": u.kind.as_str(),
        "name": u.name,
        "target": u.target,
        "endpoints": u.endpoints.iter().map(|e| endpoint(e, now)).collect::<Vec<_>>(),
        "throttle": u.throttle.map(|t| json!({
            "enabled": t.enabled,
            "reject_probability": round(t.probability),
            "window_requests": t.requests,
            "window_accepts": t.accepts,
        })),
        "retry_budget": u.retry_budget.map(|b| json!({
            "available": b.available,
            "deposits": b.deposits,
            "withdrawals": b.withdrawals,
            "reserve": b.reserve,
            "ratio": b.ratio,
        })),
    })
}

fn endpoint(e: &UpstreamEndpoint, now: SystemTime) -> Value {
    json!({
        "address": e.address,
        "state": e.state.as_str(),
        "back_in_ms": e.back_in.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        "back_at": e.back_in.and_then(|d| now.checked_add(d)).map(rfc3339),
        "consecutive_failures": e.consecutive_failures,
        "reason": e.reason,
    })
}

fn rfc3339(at: SystemTime) -> String {
    // Whole milliseconds: the sub-millisecond digits are noise to a reader.
    let at = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| SystemTime::UNIX_EPOCH + Duration::from_millis(d.as_millis() as u64))
        .unwrap_or(at);
    humantime::format_rfc3339_millis(at).to_string()
}

/// Four decimals: a probability, not a float dump.
fn round(p: f64) -> f64 {
    (p * 1e4).round() / 1e4
}
