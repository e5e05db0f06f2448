//! `GET /flags`, `PUT /flags/{name}` and `GET /audit`: the operator's
//! switches over HTTP, every change and refusal one audit record in a
//! hash-chained file, the token in none of them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use boost_audit::{AuditLog, AuditSettings};
use boost_service::RunningService;
use boost_switches::{SwitchDef, Switches, SwitchesSettings};
use common::{client, url};
use serde_json::Value;

const TOKEN: &str = "admin-token-7c1e5d9a3f";

fn switches_settings(dir: &Path) -> SwitchesSettings {
    let mut settings = SwitchesSettings::default();
    settings.state_file = dir.join("switches.json");
    settings.declared.insert(
        "partner_hertz".into(),
        SwitchDef::toggle("Call Hertz; off: no Hertz prices.", "cars", true)
            .review_by("2020-01-01"),
    );
    settings.declared.insert(
        "new_pricing".into(),
        SwitchDef::rollout("Callers on the new engine.", "pricing", 5.0),
    );
    settings
}

async fn start(dir: &Path, token: Option<&str>) -> (RunningService, Switches) {
    let audit = AuditLog::open(&AuditSettings::new(dir.join("audit.jsonl")), "demo").unwrap();
    let switches = Switches::open(&switches_settings(dir), audit.clone()).unwrap();
    let mut admin = common::any_port();
    if let Some(token) = token {
        admin = admin.with_token(token);
    }
    let svc = common::builder("demo")
        .admin(admin)
        .switches(switches.clone())
        .audit(audit)
        .start()
        .await
        .unwrap();
    (svc, switches)
}

async fn put(
    svc: &RunningService,
    name: &str,
    auth: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut request = client()
        .put(url(svc.admin_addr(), &format!("/flags/{name}")))
        .body(body.to_owned());
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    request.send().await.unwrap()
}

async fn audit_records(svc: &RunningService) -> Vec<Value> {
    let body: Value = common::get(svc.admin_addr(), "/audit?limit=50")
        .await
        .json()
        .await
        .unwrap();
    body["records"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_change_with_the_token_is_in_force_shown_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let (svc, switches) = start(dir.path(), Some(TOKEN)).await;
    let hertz = switches.get("partner_hertz").unwrap();
    let bearer = format!("Bearer {TOKEN}");
    let response = put(
        &svc,
        "partner_hertz",
        Some(&bearer),
        r#"{"enabled": false, "reason": "partner down, INC-7", "actor": "jo", "revert_after": "2h"}"#,
    )
    .await;
    assert_eq!(response.status(), 200);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["enabled"], false);
    assert!(!hertz.is_on(), "in force at once");

    let flags: Value = common::get(svc.admin_addr(), "/flags")
        .await
        .json()
        .await
        .unwrap();
    let shown = flags["switches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "partner_hertz")
        .cloned()
        .unwrap();
    assert_eq!(shown["enabled"], false);
    assert_eq!(shown["default_enabled"], true);
    assert_eq!(shown["kind"], "toggle");
    assert_eq!(shown["changed_by"], "jo");
    assert_eq!(shown["reason"], "partner down, INC-7");
    assert!(shown["reverts_at"].is_string(), "{shown}");
    assert!(shown["changed_at"].is_string(), "{shown}");
    assert_eq!(shown["stale"], true, "its review_by date has passed");

    let rollout = put(
        &svc,
        "new_pricing",
        Some(&bearer),
        r#"{"percent": 25, "reason": "ramp", "actor": "ana"}"#,
    )
    .await;
    assert_eq!(rollout.status(), 200);
    assert_eq!(switches.rollout("new_pricing").unwrap().percent(), 25.0);

    let records = audit_records(&svc).await;
    let change = records
        .iter()
        .find(|r| r["action"] == "switch.set" && r["target"] == "partner_hertz")
        .unwrap_or_else(|| panic!("no record in {records:?}"));
    assert_eq!(change["outcome"], "changed");
    assert_eq!(change["actor"], "jo");
    assert_eq!(change["old"], "on");
    assert_eq!(change["new"], "off");
    assert!(change["token"].as_str().unwrap().starts_with("sha256:"));
    assert!(change["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    let file = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(!file.contains(TOKEN), "the token reached the audit file");
    assert!(boost_audit::verify(&dir.path().join("audit.jsonl")).is_ok());
}

#[tokio::test]
async fn refusals_change_nothing_and_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let (svc, switches) = start(dir.path(), Some(TOKEN)).await;
    let hertz = switches.get("partner_hertz").unwrap();
    let good = r#"{"enabled": false, "reason": "down", "actor": "jo"}"#;
    let bearer = format!("Bearer {TOKEN}");

    assert_eq!(put(&svc, "partner_hertz", None, good).await.status(), 401);
    assert_eq!(
        put(&svc, "partner_hertz", Some("Bearer not-the-token"), good)
            .await
            .status(),
        403
    );
    let missing = put(
        &svc,
        "partner_hertz",
        Some(&bearer),
        r#"{"enabled": false, "actor": "jo"}"#,
    )
    .await;
    assert_eq!(missing.status(), 400);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = missing.json().await.unwrap();
    assert_eq!(problem["field"], "reason", "{problem}");
    assert_eq!(problem["status"], 400);
    let wrong_kind = put(&svc, "new_pricing", Some(&bearer), good).await;
    assert_eq!(wrong_kind.status(), 400);
    let problem: Value = wrong_kind.json().await.unwrap();
    assert_eq!(problem["field"], "enabled", "{problem}");
    let unknown = put(&svc, "partner_avis", Some(&bearer), good).await;
    assert_eq!(unknown.status(), 404);
    let not_json = put(&svc, "partner_hertz", Some(&bearer), "off please").await;
    assert_eq!(not_json.status(), 400);

    assert!(hertz.is_on(), "nothing changed");
    assert_eq!(switches.rollout("new_pricing").unwrap().percent(), 5.0);
    let records = audit_records(&svc).await;
    let outcomes: Vec<&str> = records
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "unauthenticated",
            "forbidden",
            "invalid",
            "invalid",
            "not_found",
            "invalid"
        ],
        "{records:?}"
    );
    let file = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(
        !file.contains(TOKEN) && !file.contains("not-the-token"),
        "{file}"
    );
    assert_eq!(file.lines().count(), 6);
}

#[tokio::test]
async fn without_an_admin_token_changes_are_off_and_the_refusal_audited() {
    let dir = tempfile::tempdir().unwrap();
    let (svc, switches) = start(dir.path(), None).await;
    let response = put(
        &svc,
        "partner_hertz",
        Some("Bearer anything"),
        r#"{"enabled": false, "reason": "down", "actor": "jo"}"#,
    )
    .await;
    assert_eq!(response.status(), 403);
    assert!(switches.get("partner_hertz").unwrap().is_on());
    let records = audit_records(&svc).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["outcome"], "disabled");
}

#[tokio::test]
async fn audit_limit_is_checked_and_bounds_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (svc, _switches) = start(dir.path(), Some(TOKEN)).await;
    for _ in 0..3 {
        put(&svc, "partner_hertz", None, "{}").await;
    }
    let body: Value = common::get(svc.admin_addr(), "/audit?limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["records"].as_array().unwrap().len(), 2);
    assert_eq!(
        common::get(svc.admin_addr(), "/audit?limit=zero")
            .await
            .status(),
        400
    );
    assert_eq!(
        common::get(svc.admin_addr(), "/audit?limit=0")
            .await
            .status(),
        400
    );
}
