//! The store: overrides survive a restart, revert by themselves, are
//! audited, and nothing changes when they cannot be stored.

use std::path::Path;
use std::time::Duration;

use boost_audit::{AuditLog, AuditSettings};
use boost_switches::{
    Change, ChangeError, SwitchDef, SwitchError, Switches, SwitchesSettings, Value,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn settings(dir: &Path) -> SwitchesSettings {
    let mut settings = SwitchesSettings::default();
    settings.state_file = dir.join("state/switches.json");
    settings.declared.insert(
        "partner_hertz".into(),
        SwitchDef::toggle("Call Hertz; off: no Hertz prices.", "cars", true),
    );
    settings.declared.insert(
        "new_pricing".into(),
        SwitchDef::rollout("Callers on the new engine.", "pricing", 5.0),
    );
    settings
}

fn audit(dir: &Path) -> Result<AuditLog, boost_audit::AuditError> {
    AuditLog::open(&AuditSettings::new(dir.join("audit.jsonl")), "demo")
}

fn off(reason: &str) -> Change {
    Change::new(Value::Enabled(false), "jo", reason)
}

#[tokio::test]
async fn an_override_survives_a_restart_and_is_audited() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let switches = Switches::open(&settings(dir.path()), audit(dir.path())?)?;
        let hertz = switches.get("partner_hertz")?;
        assert!(hertz.is_on());
        let view = switches
            .set(
                "partner_hertz",
                off("Hertz is down").caller("sha256:2bb80d53", "127.0.0.1:4000"),
            )
            .await?;
        assert_eq!(view.enabled, Some(false));
        assert_eq!(view.changed_by.as_deref(), Some("jo"));
        assert!(!hertz.is_on());
        switches
            .set(
                "new_pricing",
                Change::new(Value::Percent(50.0), "ana", "ramp up"),
            )
            .await?;
    }
    let reopened = Switches::open(&settings(dir.path()), audit(dir.path())?)?;
    assert!(
        !reopened.get("partner_hertz")?.is_on(),
        "the override came back"
    );
    assert_eq!(reopened.rollout("new_pricing")?.percent(), 50.0);
    let view = reopened.view("partner_hertz").ok_or("no view")?;
    assert_eq!(view.reason.as_deref(), Some("Hertz is down"));
    assert!(view.overridden);

    let records = audit(dir.path())?.recent(10);
    assert_eq!(records.len(), 2);
    let first = &records[0].record;
    assert_eq!(
        (first.action.as_str(), first.target.as_str()),
        ("switch.set", "partner_hertz")
    );
    assert_eq!(first.outcome, "changed");
    assert_eq!(
        (first.old.as_deref(), first.new.as_deref()),
        (Some("on"), Some("off"))
    );
    assert_eq!(first.token.as_deref(), Some("sha256:2bb80d53"));
    assert_eq!(first.peer.as_deref(), Some("127.0.0.1:4000"));
    assert_eq!(first.reason.as_deref(), Some("Hertz is down"));
    assert!(boost_audit::verify(&dir.path().join("audit.jsonl")).is_ok());
    Ok(())
}

#[tokio::test]
async fn changing_back_to_the_default_clears_the_override() -> TestResult {
    let dir = tempfile::tempdir()?;
    let switches = Switches::open(&settings(dir.path()), audit(dir.path())?)?;
    switches.set("partner_hertz", off("down")).await?;
    let view = switches
        .set(
            "partner_hertz",
            Change::new(Value::Enabled(true), "jo", "back"),
        )
        .await?;
    assert!(!view.overridden);
    let text = std::fs::read_to_string(dir.path().join("state/switches.json"))?;
    assert!(!text.contains("partner_hertz"), "{text}");
    Ok(())
}

#[tokio::test]
async fn revert_after_returns_the_switch_to_its_default_by_itself() -> TestResult {
    let dir = tempfile::tempdir()?;
    let switches = Switches::open(&settings(dir.path()), audit(dir.path())?)?;
    let hertz = switches.get("partner_hertz")?;
    let view = switches
        .set(
            "partner_hertz",
            off("maintenance window").revert_after(Duration::from_millis(300)),
        )
        .await?;
    assert!(view.reverts_at.is_some());
    assert!(!hertz.is_on());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !hertz.is_on() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        hertz.is_on(),
        "reverted within 10 s of a 300 ms revert_after"
    );
    let records = switches.audit().recent(10);
    let last = records.last().ok_or("no record")?;
    assert_eq!(last.record.action, "switch.revert");
    assert_eq!(last.record.outcome, "reverted");
    assert_eq!(last.record.new.as_deref(), Some("on"));
    assert!(!switches.view("partner_hertz").ok_or("no view")?.overridden);
    Ok(())
}

#[tokio::test]
async fn a_later_change_is_not_undone_by_an_earlier_revert() -> TestResult {
    let dir = tempfile::tempdir()?;
    let switches = Switches::open(&settings(dir.path()), audit(dir.path())?)?;
    switches
        .set(
            "partner_hertz",
            off("short").revert_after(Duration::from_millis(200)),
        )
        .await?;
    switches
        .set("partner_hertz", off("longer, no revert"))
        .await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !switches.get("partner_hertz")?.is_on(),
        "the second change stands"
    );
    Ok(())
}

#[tokio::test]
async fn a_revert_due_while_the_service_was_down_happens_at_start() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let switches = Switches::open(&settings(dir.path()), audit(dir.path())?)?;
        switches
            .set(
                "partner_hertz",
                off("brief").revert_after(Duration::from_millis(100)),
            )
            .await?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let switches = Switches::open(&settings(dir.path()), audit(dir.path())?)?;
    let hertz = switches.get("partner_hertz")?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !hertz.is_on() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(hertz.is_on());
    Ok(())
}

#[tokio::test]
async fn when_the_state_cannot_be_stored_nothing_changes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let switches = Switches::open(&settings(dir.path()), audit(dir.path())?)?;
    // The state file's directory becomes a file: every write fails (as
    // root, permissions would not stop it).
    std::fs::write(dir.path().join("state"), "")?;
    let hertz = switches.get("partner_hertz")?;
    let refused = switches.set("partner_hertz", off("down")).await;
    assert!(
        matches!(refused, Err(ChangeError::Unavailable(_))),
        "{refused:?}"
    );
    assert!(hertz.is_on(), "unchanged");
    let records = switches.audit().recent(10);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].record.outcome, "unavailable");
    Ok(())
}

#[tokio::test]
async fn bad_changes_and_names_are_refused_saying_why() -> TestResult {
    let switches = Switches::in_memory([
        (
            "partner_hertz",
            SwitchDef::toggle("Call Hertz.", "cars", true),
        ),
        (
            "new_pricing",
            SwitchDef::rollout("New engine.", "pricing", 5.0),
        ),
    ])?;
    let undeclared = switches.get("partner_avis").err().ok_or("no error")?;
    assert!(matches!(undeclared, SwitchError::Undeclared { .. }));
    assert!(
        undeclared
            .to_string()
            .contains("[switches.declared.partner_avis]"),
        "{undeclared}"
    );
    assert!(matches!(
        switches.rollout("partner_hertz"),
        Err(SwitchError::WrongKind { .. })
    ));
    assert!(matches!(
        switches.get("new_pricing"),
        Err(SwitchError::WrongKind { .. })
    ));
    let wrong = switches.set("new_pricing", off("x")).await;
    assert!(
        matches!(
            wrong,
            Err(ChangeError::Invalid {
                field: "enabled",
                ..
            })
        ),
        "{wrong:?}"
    );
    let too_much = switches
        .set("new_pricing", Change::new(Value::Percent(120.0), "jo", "x"))
        .await;
    assert!(matches!(
        too_much,
        Err(ChangeError::Invalid {
            field: "percent",
            ..
        })
    ));
    assert!(matches!(
        switches.set("nope", off("x")).await,
        Err(ChangeError::Unknown { .. })
    ));
    assert_eq!(switches.rollout("new_pricing")?.percent(), 5.0, "unchanged");
    Ok(())
}

#[test]
fn declarations_are_validated_under_their_keys() {
    let mut settings = SwitchesSettings::default();
    let mut def = SwitchDef::toggle("", "", true);
    def.review_by = Some("next spring".into());
    def.percent = 3.0;
    settings.declared.insert("Bad-Name".into(), def);
    let problems = boost_config::Problems::of("switches", &settings);
    let keys: Vec<&str> = problems.keys().collect();
    for key in [
        "switches.declared.Bad-Name",
        "switches.declared.Bad-Name.description",
        "switches.declared.Bad-Name.owner",
        "switches.declared.Bad-Name.percent",
        "switches.declared.Bad-Name.review_by",
    ] {
        assert!(keys.contains(&key), "{key} not in {keys:?}");
    }
}

#[test]
fn a_stale_switch_is_marked() -> TestResult {
    let switches = Switches::in_memory([
        (
            "old",
            SwitchDef::toggle("Old.", "cars", true).review_by("2020-01-01"),
        ),
        (
            "fresh",
            SwitchDef::toggle("Fresh.", "cars", true).review_by("2999-01-01"),
        ),
    ])?;
    assert!(switches.view("old").ok_or("no view")?.stale);
    assert!(!switches.view("fresh").ok_or("no view")?.stale);
    Ok(())
}

#[test]
fn a_corrupt_state_file_is_an_error_naming_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let settings = settings(dir.path());
    std::fs::create_dir_all(dir.path().join("state"))?;
    std::fs::write(&settings.state_file, "{ not json")?;
    let error = Switches::open(&settings, audit(dir.path())?)
        .err()
        .ok_or("opened")?;
    assert!(error.to_string().contains("switches.json"), "{error}");
    Ok(())
}

#[tokio::test]
async fn a_change_that_cannot_be_audited_is_not_made() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut audit_settings = AuditSettings::new(dir.path().join("audit.jsonl"));
    audit_settings.max_file_size = boost_config::ByteSize::kib(1);
    let audit = AuditLog::open(&audit_settings, "demo")?;
    let switches = Switches::open(&settings(dir.path()), audit)?;
    let hertz = switches.get("partner_hertz")?;
    // Fill the audit file until a record is refused.
    let mut refused = None;
    for i in 0..20 {
        let on = i % 2 == 1;
        match switches
            .set(
                "partner_hertz",
                Change::new(Value::Enabled(on), "jo", "x".repeat(100)),
            )
            .await
        {
            Ok(_) => assert_eq!(hertz.is_on(), on),
            Err(e) => {
                refused = Some((e, on));
                break;
            }
        }
    }
    let (error, asked) = refused.ok_or("the audit file never filled")?;
    assert!(matches!(error, ChangeError::Audit(_)), "{error:?}");
    assert_eq!(
        hertz.is_on(),
        !asked,
        "the unaudited change is not in force"
    );
    let reopened = Switches::open(&settings(dir.path()), AuditLog::in_memory("demo"))?;
    assert_eq!(reopened.get("partner_hertz")?.is_on(), !asked, "nor stored");
    Ok(())
}

/// An audit sink as slow as a sick disk.
struct Slow(Duration);

impl boost_audit::AuditSink for Slow {
    fn publish(&self, _: &boost_audit::ChainedRecord) {
        std::thread::sleep(self.0);
    }
}

// One worker: a change that wrote its state file and audit record on it
// would hold every other task of the service until the record is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_slow_audit_record_leaves_the_only_worker_serving_other_tasks() -> TestResult {
    const SLOW: Duration = Duration::from_millis(1500);
    let dir = tempfile::tempdir()?;
    let log = audit(dir.path())?;
    log.add_sink(std::sync::Arc::new(Slow(SLOW)));
    let switches = Switches::open(&settings(dir.path()), log)?;
    let start = std::time::Instant::now();
    let changing = {
        let switches = switches.clone();
        tokio::spawn(async move { switches.set("partner_hertz", off("Hertz is down")).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::spawn(async {}).await?;
    let waited = start.elapsed();
    assert!(
        waited < SLOW / 3,
        "the worker was held {waited:?} by a switch change being stored and audited"
    );
    let view = changing.await??;
    assert_eq!(view.enabled, Some(false));
    assert!(!switches.get("partner_hertz")?.is_on());
    Ok(())
}
