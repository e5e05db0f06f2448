//! A flood of refused admin requests cannot fill the audit file and so lock
//! the operator out: refusals are recorded at most 30 a minute (the rest
//! counted in the next record), never once the file is three quarters full,
//! and an authorized switch change still gets its record.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use boost_audit::{AuditLog, AuditSettings};
use boost_config::ByteSize;
use boost_switches::{SwitchDef, Switches, SwitchesSettings};
use common::{client, url};

const TOKEN: &str = "admin-token-5b8d2e7c41";

#[tokio::test]
async fn a_flood_of_refusals_leaves_room_for_the_operators_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut audit_settings = AuditSettings::new(dir.path().join("audit.jsonl"));
    audit_settings.max_file_size = ByteSize::kib(64);
    let audit = AuditLog::open(&audit_settings, "demo").unwrap();
    let mut switches_settings = SwitchesSettings::default();
    switches_settings.state_file = dir.path().join("switches.json");
    switches_settings.declared.insert(
        "partner_hertz".into(),
        SwitchDef::toggle("Call Hertz; off: no Hertz prices.", "cars", true),
    );
    let switches = Switches::open(&switches_settings, audit.clone()).unwrap();
    let svc = common::builder("demo")
        .admin(common::any_port().with_token(TOKEN))
        .switches(switches.clone())
        .audit(audit.clone())
        .start()
        .await
        .unwrap();

    // 2 KiB paths, no token or a wrong one: 200 of them would be ~400 KiB.
    let long = "x".repeat(2048);
    for i in 0..200 {
        let mut request = client()
            .put(url(svc.admin_addr(), &format!("/flags/{long}")))
            .body(r#"{"enabled": false, "reason": "flood"}"#);
        if i % 2 == 0 {
            request = request.header("authorization", "Bearer wrong");
        }
        let status = request.send().await.unwrap().status();
        assert!(status == 401 || status == 403, "{status}");
    }
    let (size, max) = audit.usage().unwrap();
    assert!(
        size < max / 4 * 3 + 4096,
        "the flood filled {size} of {max} bytes"
    );
    let refusals = audit
        .recent(1000)
        .iter()
        .filter(|r| r.record.action == "admin.refused")
        .count();
    assert!(
        (1..=30).contains(&refusals),
        "{refusals} refusals recorded one by one (at most 30 a minute)"
    );
    assert!(
        audit
            .recent(1000)
            .iter()
            .all(|r| r.record.target.len() < 300),
        "targets are cut"
    );

    let response = client()
        .put(url(svc.admin_addr(), "/flags/partner_hertz"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(r#"{"enabled": false, "actor": "jo", "reason": "Hertz is down"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert!(!switches.get("partner_hertz").unwrap().is_on());
    assert!(
        audit
            .recent(1000)
            .iter()
            .any(|r| r.record.action == "switch.set" && r.record.outcome == "changed"),
        "the operator's change is audited"
    );
    drop(svc);
}
