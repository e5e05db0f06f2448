//! `GET`/`PUT /loglevel`: bearer-token security, audit events, and a filter
//! change that really changes what is logged.
//!
//! This binary installs boost-tracing's subscriber (JSON lines into a buffer)
//! as the process-wide one, and hands its `LogFilter` to the service.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use boost_service::LogLevelControl;
use boost_tracing::{LogFilter, LogFormat, TracingSettings};
use common::{client, url};
use serde_json::Value;

const TOKEN: &str = "admin-token-1b7c4e9f2a";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The JSON log lines written so far.
    fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// The process-wide subscriber (installed once) and its filter.
fn logging() -> &'static (LogFilter, Captured) {
    static LOGGING: OnceLock<(LogFilter, Captured)> = OnceLock::new();
    LOGGING.get_or_init(|| {
        let mut settings = TracingSettings::default();
        settings.format = LogFormat::Json;
        settings.panic_hook = false;
        let captured = Captured::default();
        let (dispatch, guard) =
            boost_tracing::builder(&settings, &common::identity("hello-service"))
                .ignore_rust_log()
                .blocking_writer(captured.clone())
                .build()
                .unwrap();
        tracing::dispatcher::set_global_default(dispatch).unwrap();
        let filter = guard.log_filter();
        // Logging lives as long as this test process.
        std::mem::forget(guard);
        (filter, captured)
    })
}

/// Tests here share one process-wide filter: they take turns.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn start(token: Option<&str>) -> boost_service::RunningService {
    let (control, _) = logging();
    let mut admin = common::any_port();
    if let Some(token) = token {
        admin = admin.with_token(token);
    }
    common::builder("hello-service")
        .admin(admin)
        .log_level_control(control.clone())
        .start()
        .await
        .unwrap()
}

async fn put(
    svc: &boost_service::RunningService,
    auth: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut request = client()
        .put(url(svc.admin_addr(), "/loglevel"))
        .body(body.to_owned());
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn get_shows_the_current_filter() {
    let _turn = SERIAL.lock().await;
    let svc = start(Some(TOKEN)).await;
    let response = common::get(svc.admin_addr(), "/loglevel").await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(!body.trim().is_empty());
    assert_eq!(body.trim(), logging().0.current(), "the filter in force");
}

#[tokio::test]
async fn put_without_token_is_401_with_www_authenticate() {
    let _turn = SERIAL.lock().await;
    let svc = start(Some(TOKEN)).await;
    let before = logging().0.current();
    let response = put(&svc, None, "trace").await;
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let response = put(&svc, Some(&format!("Basic {TOKEN}")), "trace").await;
    assert_eq!(response.status(), 401, "a non-Bearer scheme is no token");
    assert_eq!(logging().0.current(), before);
}

#[tokio::test]
async fn put_with_wrong_token_is_403() {
    let _turn = SERIAL.lock().await;
    let svc = start(Some(TOKEN)).await;
    let before = logging().0.current();
    for wrong in [
        "Bearer nope",
        "Bearer admin-token-1b7c4e9f2",
        "Bearer admin-token-1b7c4e9f2ab",
    ] {
        let response = put(&svc, Some(wrong), "trace").await;
        assert_eq!(response.status(), 403, "{wrong}");
    }
    assert_eq!(logging().0.current(), before);
    assert!(logging().1.text().contains("wrong bearer token"));
}

#[tokio::test]
async fn a_token_read_with_surrounding_whitespace_still_matches() {
    // A token file written by `echo "<token> "` keeps the space; validation
    // measures the trimmed token, so comparison must use it too.
    let _turn = SERIAL.lock().await;
    let before = logging().0.current();
    let svc = start(Some(&format!(" {TOKEN} \t"))).await;
    let response = put(&svc, Some(&format!("Bearer {TOKEN}")), &before).await;
    assert_eq!(response.status(), 200);
    assert_eq!(logging().0.current(), before);
}

#[tokio::test]
async fn put_is_disabled_when_no_token_is_configured() {
    let _turn = SERIAL.lock().await;
    let svc = start(None).await;
    let response = put(&svc, Some(&format!("Bearer {TOKEN}")), "trace").await;
    assert_eq!(response.status(), 403);
    let body = response.text().await.unwrap();
    assert!(body.contains("admin.token"), "{body}");
    assert!(body.contains("HELLO_SERVICE__ADMIN__TOKEN"), "{body}");
}

#[tokio::test]
async fn put_with_invalid_filter_is_400_and_changes_nothing() {
    let _turn = SERIAL.lock().await;
    let svc = start(Some(TOKEN)).await;
    let before = logging().0.current();
    let response = put(&svc, Some(&format!("Bearer {TOKEN}")), "info,=[[[").await;
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(body.contains("the filter stays"), "{body}");
    assert_eq!(logging().0.current(), before);
}

#[tokio::test]
async fn put_with_token_changes_what_is_logged_and_is_audited() {
    let _turn = SERIAL.lock().await;
    let (control, captured) = logging();
    LogLevelControl::set(control, "info").unwrap();
    let svc = start(Some(TOKEN)).await;

    tracing::debug!(target: "loglevel_probe", "probe before the change");
    assert!(!captured.text().contains("probe before the change"));

    let response = put(
        &svc,
        Some(&format!("bearer {TOKEN}")),
        "info,loglevel_probe=debug",
    )
    .await;
    assert_eq!(response.status(), 200);
    // The answer is the filter now in force, as the subscriber spells it.
    let now = response.text().await.unwrap().trim().to_owned();
    assert!(
        now.contains("loglevel_probe=debug") && now.contains("info"),
        "{now}"
    );
    assert_eq!(control.current(), now);
    let shown = common::get(svc.admin_addr(), "/loglevel")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(shown.trim(), now);

    tracing::debug!(target: "loglevel_probe", "probe after the change");
    let logs = captured.text();
    assert!(logs.contains("probe after the change"), "{logs}");

    let audit = captured
        .lines()
        .into_iter()
        // This change's event (other tests in this binary change the filter too).
        .find(|l| {
            l["target"] == "boost_service::audit"
                && l["outcome"] == "changed"
                && l["new"] == now.as_str()
        })
        .unwrap_or_else(|| panic!("no audit event in:\n{logs}"));
    assert_eq!(audit["level"], "WARN", "{audit}");
    assert!(
        audit["token_fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{audit}"
    );
    assert!(
        audit["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{audit}"
    );
    assert_eq!(audit["action"], "loglevel.set", "{audit}");
    // `target` is the line's own key: the record's is written `field.target`.
    assert_eq!(audit["field.target"], "log filter", "{audit}");
    assert_eq!(audit["old"], "info", "{audit}");
    assert_eq!(audit["new"], now.as_str(), "{audit}");
    assert!(
        humantime::parse_rfc3339(audit["at"].as_str().unwrap()).is_ok(),
        "{audit}"
    );
    // The same record is on /audit, chained.
    let recent: Value = common::get(svc.admin_addr(), "/audit?limit=5")
        .await
        .json()
        .await
        .unwrap();
    let last = recent["records"]
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(last["action"], "loglevel.set");
    assert_eq!(last["new"], now.as_str());
    assert_eq!(last["hash"], audit["hash"]);
    assert!(!logs.contains(TOKEN), "the token reached a log line");
}

#[tokio::test]
async fn a_filter_that_sets_no_level_is_400_naming_the_directive_and_nearest_level() {
    let _turn = SERIAL.lock().await;
    let svc = start(Some(TOKEN)).await;
    let before = logging().0.current();
    for typo in ["inof", "warn,hello_service"] {
        let response = put(&svc, Some(&format!("Bearer {TOKEN}")), typo).await;
        assert_eq!(response.status(), 400, "{typo}");
        let body = response.text().await.unwrap();
        assert!(body.contains("sets no level"), "{body}");
        assert!(body.contains("the filter stays"), "{body}");
        assert_eq!(logging().0.current(), before, "{typo}");
    }
    let body = put(&svc, Some(&format!("Bearer {TOKEN}")), "inof")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("\"inof\"") && body.contains("did you mean \"info\""),
        "{body}"
    );
}

#[tokio::test]
async fn refusals_are_audited_even_when_the_filter_is_off() {
    let _turn = SERIAL.lock().await;
    let (control, captured) = logging();
    let svc = start(Some(TOKEN)).await;
    for quiet in ["off", "error"] {
        let response = put(&svc, Some(&format!("Bearer {TOKEN}")), quiet).await;
        assert_eq!(response.status(), 200, "{quiet}");
        let seen = captured.text().len();
        tracing::warn!(target: "loglevel_probe", "a warning under {quiet}");
        let response = put(&svc, Some("Bearer not-the-token"), "trace").await;
        assert_eq!(response.status(), 403);
        let after = captured.text()[seen..].to_owned();
        assert!(
            !after.contains("a warning under"),
            "{quiet} let a warning through:\n{after}"
        );
        let refusal = after
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["target"] == "boost_service::audit" && l["outcome"] == "forbidden");
        assert!(
            refusal.is_some(),
            "no audit event under filter {quiet:?}:\n{after}"
        );
    }
    LogLevelControl::set(control, "info").unwrap();
}
