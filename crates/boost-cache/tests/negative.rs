//! A loader's "absent" answer is cached for `negative_ttl`, then asked again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use boost_cache::{Cache, CacheSettings};

#[derive(Debug)]
struct SourceDown;

/// Looks `key` up through a loader that always says "absent" and counts its calls.
async fn lookup_absent(cache: &Cache<String, String>, calls: &Arc<AtomicUsize>) -> Option<String> {
    let calls = calls.clone();
    cache
        .get_or_load("missing".to_owned(), move || async move {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, SourceDown>(None)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn absent_answers_are_cached_for_negative_ttl_then_expire() {
    let mut settings = CacheSettings::new("negative");
    settings.negative_ttl = Some(Duration::from_millis(100));
    settings.ttl_jitter = 0.0;
    let cache: Cache<String, String> = Cache::new(settings).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));

    assert_eq!(lookup_absent(&cache, &calls).await, None);
    for _ in 0..10 {
        assert_eq!(lookup_absent(&cache, &calls).await, None);
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "repeated lookups reached the source"
    );

    // Well past the 100 ms negative_ttl.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(lookup_absent(&cache, &calls).await, None);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the absence did not expire"
    );
}

#[tokio::test]
async fn absent_answers_are_not_cached_without_negative_ttl() {
    let cache: Cache<String, String> = Cache::new(CacheSettings::new("no-negative")).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        assert_eq!(lookup_absent(&cache, &calls).await, None);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    cache.run_pending_tasks().await;
    assert_eq!(cache.entry_count(), 0);
}

#[tokio::test]
async fn a_value_outlives_the_negative_ttl() {
    let mut settings = CacheSettings::new("negative-and-values");
    settings.negative_ttl = Some(Duration::from_millis(100));
    let cache: Cache<String, String> = Cache::new(settings).unwrap();
    cache
        .get_or_load("k".to_owned(), || async {
            Ok::<_, SourceDown>(Some("v".to_owned()))
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        cache.get("k").await.as_deref(),
        Some("v"),
        "negative_ttl applied to a value"
    );
}
