//! Graceful shutdown: readiness first, then the drain delay, then tasks stop
//! and drain, then the admin server closes; a second request forces.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use boost_service::{Error, LifecycleSettings, Phase};
use common::{builder, client, url};

fn timings(drain: Duration, timeout: Duration) -> LifecycleSettings {
    LifecycleSettings::default()
        .with_drain_delay(drain)
        .with_shutdown_timeout(timeout)
}

#[tokio::test]
async fn readiness_turns_503_during_the_drain_before_the_listener_closes() {
    let svc = builder("drain-demo")
        .lifecycle(timings(
            Duration::from_millis(1500),
            Duration::from_secs(10),
        ))
        .readiness_check("db", || async { Ok::<_, std::io::Error>(()) })
        .start()
        .await
        .unwrap();
    let addr = svc.admin_addr();
    let http = client();
    assert_eq!(
        http.get(url(addr, "/health/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let handle = svc.shutdown_handle();
    let waiting = tokio::spawn(svc.wait());
    let triggered = Instant::now();
    handle.trigger();

    // Poll during the drain: readiness must say 503 while the server still answers.
    let mut saw_503_at = None;
    while triggered.elapsed() < Duration::from_secs(10) {
        let response = http.get(url(addr, "/health/ready")).send().await.unwrap();
        if response.status() == 503 {
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["status"], "shutting_down");
            saw_503_at = Some(triggered.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let saw_503_at = saw_503_at.expect("readiness never turned 503");
    assert!(
        saw_503_at < Duration::from_millis(1500),
        "503 only after {saw_503_at:?}"
    );
    // Liveness is unaffected by shutdown.
    assert_eq!(
        http.get(url(addr, "/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    waiting.await.unwrap().unwrap();
    assert!(
        triggered.elapsed() >= Duration::from_millis(1500),
        "the drain delay was not honoured"
    );
    let after = reqwest::Client::new()
        .get(url(addr, "/health/live"))
        .send()
        .await;
    assert!(
        after.is_err(),
        "the admin listener is still open after shutdown"
    );
}

#[tokio::test]
async fn tasks_are_told_in_order_and_may_finish_in_flight_work() {
    let events = Arc::new(Mutex::new(Vec::<(&'static str, Instant)>::new()));
    let log = events.clone();
    let svc = builder("order-demo")
        .lifecycle(timings(Duration::from_millis(300), Duration::from_secs(10)))
        .task("worker", move |lc| async move {
            lc.shutdown_started().await;
            log.lock()
                .unwrap()
                .push(("shutdown started", Instant::now()));
            assert!(!lc.is_ready());
            assert!(lc.is_shutting_down());
            assert!(lc.deadline().is_none());
            lc.stop_accepting().await;
            log.lock().unwrap().push(("stop accepting", Instant::now()));
            assert_eq!(lc.phase(), Phase::Stopping);
            assert!(lc.deadline().is_some());
            // In-flight work, well within the 10 s shutdown timeout.
            tokio::time::sleep(Duration::from_millis(200)).await;
            log.lock().unwrap().push(("drained", Instant::now()));
            Ok::<_, std::io::Error>(())
        })
        .start()
        .await
        .unwrap();
    let lifecycle = svc.lifecycle().clone();
    let mut ready = lifecycle.watch_ready();
    assert!(*ready.borrow_and_update());
    assert!(lifecycle.is_ready());
    svc.shutdown_handle().trigger();
    svc.wait().await.unwrap();

    assert!(!*ready.borrow());
    assert_eq!(lifecycle.phase(), Phase::Stopped);
    let events = events.lock().unwrap();
    let names: Vec<_> = events.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["shutdown started", "stop accepting", "drained"]);
    assert!(
        events[1].1 - events[0].1 >= Duration::from_millis(300),
        "tasks were told to stop before the drain delay passed"
    );
}

#[tokio::test]
async fn a_task_that_ignores_shutdown_is_aborted_at_the_timeout() {
    let started = Instant::now();
    let svc = builder("stuck-demo")
        .lifecycle(timings(Duration::ZERO, Duration::from_millis(300)))
        .task("stubborn", |_lc| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<_, std::io::Error>(())
        })
        .task("polite", |lc| async move {
            lc.stop_accepting().await;
            Ok::<_, std::io::Error>(())
        })
        .start()
        .await
        .unwrap();
    svc.shutdown_handle().trigger();
    let err = svc.wait().await.unwrap_err();
    match &err {
        Error::ShutdownTimedOut { tasks, .. } => assert_eq!(tasks, &["stubborn".to_owned()]),
        other => panic!("unexpected {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("STUCK_DEMO__LIFECYCLE__SHUTDOWN_TIMEOUT"),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_second_request_forces_shutdown_at_once() {
    let svc = builder("force-demo")
        .lifecycle(timings(
            Duration::from_secs(3600),
            Duration::from_secs(3600),
        ))
        .task("worker", |lc| async move {
            lc.stop_accepting().await;
            Ok::<_, std::io::Error>(())
        })
        .start()
        .await
        .unwrap();
    let handle = svc.shutdown_handle();
    let waiting = tokio::spawn(svc.wait());
    handle.trigger();
    handle.trigger(); // idempotent: not a force
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished());
    let forced_at = Instant::now();
    handle.force();
    let err = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("force did not stop the service")
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::Forced { .. }), "{err:?}");
    assert!(forced_at.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_failing_task_shuts_the_service_down_and_run_returns_its_error() {
    let stopped_cleanly = Arc::new(Mutex::new(false));
    let flag = stopped_cleanly.clone();
    let result = builder("fail-demo")
        .task("broken", |_lc| async {
            Err::<(), _>(std::io::Error::other("upstream config is invalid"))
        })
        .task("healthy", move |lc| async move {
            lc.stop_accepting().await;
            *flag.lock().unwrap() = true;
            Ok::<_, std::io::Error>(())
        })
        .run();
    let err = tokio::time::timeout(Duration::from_secs(10), result)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Task { task, .. } if task == "broken"),
        "{err:?}"
    );
    assert!(err.to_string().contains("upstream config is invalid"));
    assert!(
        *stopped_cleanly.lock().unwrap(),
        "other tasks were not stopped gracefully"
    );
}

#[tokio::test]
async fn a_panicking_task_is_reported_with_its_message() {
    let err = builder("panic-demo")
        .task("crashy", |_lc| async {
            if true {
                panic!("boom in crashy");
            }
            Ok::<_, std::io::Error>(())
        })
        .run()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("boom in crashy") && text.contains("the log has the panic's location"),
        "the error says what happened and where to look: {text}"
    );
    match err {
        Error::TaskPanicked { task, message } => {
            assert_eq!(task, "crashy");
            assert_eq!(message, "boom in crashy");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_task_returning_early_stops_the_service_cleanly() {
    let result = builder("oneshot-demo")
        .task("job", |_lc| async { Ok::<_, std::io::Error>(()) })
        .run();
    tokio::time::timeout(Duration::from_secs(10), result)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn checks_are_not_run_once_shutdown_started() {
    let svc = builder("phase-demo")
        .lifecycle(timings(Duration::from_millis(500), Duration::from_secs(10)))
        .readiness_check("db", || async { Ok::<_, std::io::Error>(()) })
        .start()
        .await
        .unwrap();
    let lc = svc.lifecycle().clone();
    assert_eq!(lc.phase(), Phase::Serving);
    let handle = svc.shutdown_handle();
    let waiting = tokio::spawn(svc.wait());
    handle.trigger();
    tokio::time::timeout(Duration::from_secs(5), lc.shutdown_started())
        .await
        .unwrap();
    let report = lc.check_readiness().await;
    assert!(!report.is_ready());
    assert!(report.checks.is_empty());
    waiting.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_admin_server_answers_while_tasks_finish_in_flight_work() {
    let admin = Arc::new(std::sync::OnceLock::<std::net::SocketAddr>::new());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (addr_for_task, seen_by_task) = (admin.clone(), seen.clone());
    let svc = builder("admin-last")
        .lifecycle(timings(Duration::from_millis(50), Duration::from_secs(10)))
        .task("worker", move |lc| async move {
            lc.stop_accepting().await;
            // In-flight work still running: probes and scrapes must still be answered.
            let addr = *addr_for_task.get().unwrap();
            for path in ["/health/live", "/health/ready", "/info"] {
                let status = client().get(url(addr, path)).send().await.unwrap().status();
                seen_by_task
                    .lock()
                    .unwrap()
                    .push((path, status.as_u16(), lc.phase()));
            }
            Ok::<_, std::io::Error>(())
        })
        .start()
        .await
        .unwrap();
    admin.set(svc.admin_addr()).unwrap();
    svc.shutdown_handle().trigger();
    svc.wait().await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            ("/health/live", 200, Phase::Stopping),
            ("/health/ready", 503, Phase::Stopping),
            ("/info", 200, Phase::Stopping),
        ]
    );
}

#[tokio::test]
async fn an_endless_shutdown_timeout_means_wait_for_the_tasks_not_a_panic() {
    // Longer than a year is refused by validation, naming the key.
    let refused = builder("overflowing-timeout")
        .lifecycle(timings(Duration::ZERO, Duration::MAX))
        .start()
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(refused.contains("shutdown_timeout"), "{refused}");

    let year = Duration::from_secs(365 * 24 * 60 * 60);
    let svc = builder("endless-timeout")
        .lifecycle(timings(Duration::ZERO, year))
        .task("worker", |lc| async move {
            lc.stop_accepting().await;
            assert!(lc.deadline().is_some());
            Ok::<_, std::io::Error>(())
        })
        .start()
        .await
        .unwrap();
    svc.shutdown_handle().trigger();
    tokio::time::timeout(Duration::from_secs(10), svc.wait())
        .await
        .expect("shutdown did not finish")
        .unwrap();
}
