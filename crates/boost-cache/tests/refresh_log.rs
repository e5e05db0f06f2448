//! A failed background refresh is logged with the loader's error, so the
//! operator sees why. (Its own test binary: log assertions need a process of their own.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use boost_cache::{Cache, CacheSettings};
use boost_tracing::testing::Capture;

#[derive(Debug)]
struct SourceDown {
    #[allow(dead_code)] // read through `Debug`
    host: &'static str,
}

// Current-thread runtime: the refresh task runs on this thread, inside the capture.
#[tokio::test]
async fn a_failed_refresh_is_logged_with_the_loaders_error() {
    let capture = Capture::new();
    let _guard = capture.set_default();
    let mut settings = CacheSettings::new("refresh-log");
    settings.ttl = Some(Duration::from_secs(5));
    settings.refresh_after = Some(Duration::from_millis(50));
    settings.ttl_jitter = 0.0;
    let cache: Cache<String, String> = Cache::new(settings).unwrap();
    let first = cache
        .get_or_load("k".to_owned(), || async {
            Ok::<_, SourceDown>(Some("v1".to_owned()))
        })
        .await
        .unwrap();
    assert_eq!(first.as_deref(), Some("v1"));

    tokio::time::sleep(Duration::from_millis(100)).await;
    let stale = cache
        .get_or_load("k".to_owned(), || async {
            Err::<Option<String>, _>(SourceDown {
                host: "profiles-db-3",
            })
        })
        .await
        .unwrap();
    assert_eq!(stale.as_deref(), Some("v1"), "the old value is served");

    let mut logged = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        logged = capture
            .events()
            .into_iter()
            .find(|e| e.message.starts_with("cache refresh failed"));
        if logged.is_some() {
            break;
        }
    }
    let logged = logged.expect("the failed refresh is logged");
    let error = logged.fields["error"].to_string();
    assert!(
        error.contains("SourceDown") && error.contains("profiles-db-3"),
        "{error}"
    );
    assert_eq!(logged.fields["cache"].to_string(), "\"refresh-log\"");
}
