//! Concurrent misses for one key run the loader once; errors reach every waiter and are not cached.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use boost_cache::{Cache, CacheSettings};
use tokio::sync::Barrier;

#[derive(Debug, PartialEq)]
struct SourceDown;

fn cache(name: &str) -> Cache<String, String> {
    Cache::new(CacheSettings::new(name)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_misses_run_the_loader_once_and_all_get_the_value() {
    let cache = cache("coalesce");
    let calls = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(1000));

    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (cache, calls, barrier) = (cache.clone(), calls.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                cache
                    .get_or_load("answer".to_owned(), move || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        // Long enough that every caller arrives while the load is in flight.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Ok::<_, SourceDown>(Some("42".to_owned()))
                    })
                    .await
            })
        })
        .collect();

    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().as_deref(), Some("42"));
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the loader ran more than once"
    );
    assert_eq!(cache.get("answer").await.as_deref(), Some("42"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loader_error_reaches_every_waiter_and_the_next_call_loads_again() {
    let cache = cache("coalesce-error");
    let calls = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(100));

    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (cache, calls, barrier) = (cache.clone(), calls.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                cache
                    .get_or_load("k".to_owned(), move || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Err::<Option<String>, _>(SourceDown)
                    })
                    .await
            })
        })
        .collect();

    let mut errors = Vec::new();
    for task in tasks {
        errors.push(
            task.await
                .unwrap()
                .expect_err("every waiter sees the error"),
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(errors.iter().all(|e| **e == SourceDown));
    assert!(
        errors.iter().all(|e| Arc::ptr_eq(e, &errors[0])),
        "waiters share the one error"
    );
    assert_eq!(cache.get("k").await, None, "an error is not cached");

    let calls_after = calls.clone();
    let value = cache
        .get_or_load("k".to_owned(), move || async move {
            calls_after.fetch_add(1, Ordering::SeqCst);
            Ok::<_, SourceDown>(Some("recovered".to_owned()))
        })
        .await
        .unwrap();
    assert_eq!(value.as_deref(), Some("recovered"));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the next call ran the loader again"
    );
}

#[tokio::test]
async fn a_hit_does_not_run_the_loader() {
    let cache = cache("hit");
    cache.insert("k".to_owned(), "cached".to_owned()).await;
    let value = cache
        .get_or_load("k".to_owned(), || async {
            Err::<Option<String>, _>(SourceDown)
        })
        .await
        .unwrap();
    assert_eq!(value.as_deref(), Some("cached"));
}

#[tokio::test]
async fn invalidate_if_drops_matching_entries_only() {
    let cache = cache("invalidate-if");
    for key in ["tenant-a/1", "tenant-a/2", "tenant-b/1"] {
        cache.insert(key.to_owned(), key.to_uppercase()).await;
    }
    cache.invalidate_if(|key, _value| key.starts_with("tenant-a/"));
    assert_eq!(cache.get("tenant-a/1").await, None);
    assert_eq!(cache.get("tenant-a/2").await, None);
    assert_eq!(cache.get("tenant-b/1").await.as_deref(), Some("TENANT-B/1"));

    cache.invalidate("tenant-b/1").await;
    assert_eq!(cache.get("tenant-b/1").await, None);

    cache.insert("x".to_owned(), "X".to_owned()).await;
    cache.invalidate_all();
    assert_eq!(cache.get("x").await, None);
}
