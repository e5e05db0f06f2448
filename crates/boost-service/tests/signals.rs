//! Real signals: SIGTERM starts graceful shutdown, a second one forces it.
//!
//! Signals reach the whole process, so this binary holds one test that runs
//! both cases in turn.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use boost_service::{Error, LifecycleSettings};

fn sigterm_self() {
    // The shell's built-in `kill`: no extra program needed.
    let status = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", std::process::id())])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully_and_a_second_one_forces() {
    // One SIGTERM: a clean, graceful shutdown.
    let svc = common::builder("signal-demo")
        .handle_signals(true)
        .lifecycle(LifecycleSettings::default().with_drain_delay(Duration::from_millis(200)))
        .task("worker", |lc| async move {
            lc.stop_accepting().await;
            Ok::<_, std::io::Error>(())
        })
        .start()
        .await
        .unwrap();
    let lc = svc.lifecycle().clone();
    let waiting = tokio::spawn(svc.wait());
    sigterm_self();
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("SIGTERM did not stop the service")
        .unwrap()
        .unwrap();
    assert!(lc.is_shutting_down());

    // Two SIGTERMs: the second forces, long before the hour-long drain delay.
    let svc = common::builder("signal-demo")
        .handle_signals(true)
        .lifecycle(LifecycleSettings::default().with_drain_delay(Duration::from_secs(3600)))
        .start()
        .await
        .unwrap();
    let lc = svc.lifecycle().clone();
    let waiting = tokio::spawn(svc.wait());
    sigterm_self();
    tokio::time::timeout(Duration::from_secs(10), lc.shutdown_started())
        .await
        .expect("the first SIGTERM did not start shutdown");
    let second = Instant::now();
    sigterm_self();
    let err = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the second SIGTERM did not force shutdown")
        .unwrap()
        .unwrap_err();
    match err {
        Error::Forced { reason } => assert_eq!(reason, "a second SIGTERM"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(second.elapsed() < Duration::from_secs(5));
}
