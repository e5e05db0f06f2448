//! Refresh-ahead: a hit on an old value returns it at once and reloads it once, in the background.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use boost_cache::{Cache, CacheSettings};

#[derive(Debug)]
struct SourceDown;

fn settings(name: &str, ttl_ms: u64, refresh_after_ms: u64) -> CacheSettings {
    let mut settings = CacheSettings::new(name);
    settings.ttl = Some(Duration::from_millis(ttl_ms));
    settings.refresh_after = Some(Duration::from_millis(refresh_after_ms));
    settings.ttl_jitter = 0.0;
    settings
}

/// `get_or_load` through a loader that counts its calls, sleeps `delay`, then answers `answer`.
async fn load(
    cache: &Cache<String, String>,
    calls: &Arc<AtomicUsize>,
    delay: Duration,
    answer: Result<&'static str, SourceDown>,
) -> Option<String> {
    let calls = calls.clone();
    cache
        .get_or_load("k".to_owned(), move || async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            answer.map(|v| Some(v.to_owned()))
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_hit_serves_the_old_value_and_reloads_once() {
    let cache: Cache<String, String> = Cache::new(settings("refresh", 10_000, 100)).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    assert_eq!(
        load(&cache, &calls, Duration::ZERO, Ok("v1"))
            .await
            .as_deref(),
        Some("v1")
    );

    tokio::time::sleep(Duration::from_millis(400)).await; // well past refresh_after
    let slow_reload = Duration::from_millis(1500);
    let started = Instant::now();
    for _ in 0..50 {
        assert_eq!(
            load(&cache, &calls, slow_reload, Ok("v2")).await.as_deref(),
            Some("v1")
        );
    }
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "stale hits waited for the reload ({:?}, reload takes {slow_reload:?})",
        started.elapsed()
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    while cache.get("k").await.as_deref() != Some("v2") {
        assert!(Instant::now() < deadline, "the reload never landed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "one initial load + one reload for 50 stale hits"
    );
    // Fresh again: no further reloads.
    assert_eq!(
        load(&cache, &calls, Duration::ZERO, Ok("v3"))
            .await
            .as_deref(),
        Some("v2")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_reload_keeps_serving_the_old_value_until_ttl() {
    let cache: Cache<String, String> = Cache::new(settings("refresh-fail", 1500, 100)).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let loaded = Instant::now();
    assert_eq!(
        load(&cache, &calls, Duration::ZERO, Ok("v1"))
            .await
            .as_deref(),
        Some("v1")
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    let failing = load(&cache, &calls, Duration::ZERO, Err(SourceDown)).await;
    assert_eq!(failing.as_deref(), Some("v1"));
    tokio::time::sleep(Duration::from_millis(200)).await; // let the reload fail
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        cache.get("k").await.as_deref(),
        Some("v1"),
        "a failed reload dropped the value"
    );

    // Past the 1.5 s ttl the old value is gone, and the next call loads synchronously.
    tokio::time::sleep(
        (loaded + Duration::from_millis(2200)).saturating_duration_since(Instant::now()),
    )
    .await;
    assert_eq!(cache.get("k").await, None, "the old value outlived its ttl");
    assert_eq!(
        load(&cache, &calls, Duration::ZERO, Ok("v2"))
            .await
            .as_deref(),
        Some("v2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_never_refreshes() {
    let cache: Cache<String, String> = Cache::new(settings("refresh-get", 10_000, 100)).unwrap();
    cache.insert("k".to_owned(), "v1".to_owned()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cache.get("k").await.as_deref(), Some("v1"));
}
