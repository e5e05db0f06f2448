//! Every lookup, load and eviction is counted, exactly, under the cache's name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use boost_cache::{Cache, CacheSettings};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

#[derive(Debug)]
struct SourceDown;

/// One snapshot of a debugging recorder, queried by metric name and labels.
struct Observed(Vec<(String, BTreeMap<String, String>, DebugValue)>);

impl Observed {
    fn take(snapshotter: &Snapshotter) -> Self {
        Self(
            snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .map(|(key, _unit, _desc, value)| {
                    let labels = key
                        .key()
                        .labels()
                        .map(|l| (l.key().to_owned(), l.value().to_owned()))
                        .collect();
                    (key.key().name().to_owned(), labels, value)
                })
                .collect(),
        )
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> &DebugValue {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.0
            .iter()
            .find(|(n, l, _)| n == name && *l == wanted)
            .map(|(_, _, v)| v)
            .unwrap_or_else(|| panic!("no {name}{labels:?} in {:?}", self.0))
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.value(name, labels) {
            DebugValue::Counter(n) => *n,
            other => panic!("{name} is not a counter: {other:?}"),
        }
    }

    fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        match self.value(name, labels) {
            DebugValue::Gauge(v) => v.into_inner(),
            other => panic!("{name} is not a gauge: {other:?}"),
        }
    }

    fn histogram_count(&self, name: &str, labels: &[(&str, &str)]) -> usize {
        match self.value(name, labels) {
            DebugValue::Histogram(values) => values.len(),
            other => panic!("{name} is not a histogram: {other:?}"),
        }
    }
}

/// A cache whose metrics go to a fresh debugging recorder (no global state).
fn observed_cache(settings: CacheSettings) -> (Cache<String, String>, Snapshotter) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let cache = metrics::with_local_recorder(&recorder, || Cache::new(settings)).unwrap();
    (cache, snapshotter)
}

async fn load(
    cache: &Cache<String, String>,
    key: &str,
    answer: Result<Option<&'static str>, SourceDown>,
) {
    let _ = cache
        .get_or_load(key.to_owned(), move || async move {
            answer.map(|v| v.map(str::to_owned))
        })
        .await;
}

#[tokio::test]
async fn request_and_load_counts_match_the_operations() {
    let mut settings = CacheSettings::new("profiles");
    settings.negative_ttl = Some(Duration::from_secs(60));
    let (cache, snapshotter) = observed_cache(settings);

    cache.get("a").await; //                      miss 1
    load(&cache, "a", Ok(Some("A"))).await; //    miss 2, load ok
    load(&cache, "a", Ok(Some("unused"))).await; // hit 1
    cache.get("a").await; //                      hit 2
    load(&cache, "b", Ok(None)).await; //         miss 3, load absent
    load(&cache, "b", Ok(Some("unused"))).await; // hit 3 (cached absence)
    load(&cache, "c", Err(SourceDown)).await; //  miss 4, load error
    load(&cache, "c", Err(SourceDown)).await; //  miss 5, load error (errors are not cached)

    let seen = Observed::take(&snapshotter);
    let requests = |result| {
        seen.counter(
            "cache_requests_total",
            &[("cache", "profiles"), ("tier", "l1"), ("result", result)],
        )
    };
    let loads = |outcome| {
        seen.counter(
            "cache_loads_total",
            &[("cache", "profiles"), ("outcome", outcome)],
        )
    };
    assert_eq!(requests("hit"), 3);
    assert_eq!(requests("miss"), 5);
    assert_eq!(requests("stale"), 0);
    assert_eq!(loads("ok"), 1);
    assert_eq!(loads("absent"), 1);
    assert_eq!(loads("error"), 2);
    assert_eq!(
        seen.histogram_count("cache_load_duration_seconds", &[("cache", "profiles")]),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_hits_and_reload_outcomes_are_counted() {
    let mut settings = CacheSettings::new("refreshing");
    settings.ttl = Some(Duration::from_secs(30));
    settings.refresh_after = Some(Duration::from_millis(100));
    let (cache, snapshotter) = observed_cache(settings);

    load(&cache, "k", Ok(Some("v1"))).await; // miss, load ok
    tokio::time::sleep(Duration::from_millis(400)).await;
    load(&cache, "k", Err(SourceDown)).await; // stale, reload fails in the background
    tokio::time::sleep(Duration::from_millis(300)).await;
    load(&cache, "k", Ok(Some("v2"))).await; // stale again (the failure kept v1), reload ok
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while cache.get("k").await.as_deref() != Some("v2") {
        assert!(std::time::Instant::now() < deadline, "reload never landed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let seen = Observed::take(&snapshotter);
    let requests = |result| {
        seen.counter(
            "cache_requests_total",
            &[("cache", "refreshing"), ("tier", "l1"), ("result", result)],
        )
    };
    let loads = |outcome| {
        seen.counter(
            "cache_loads_total",
            &[("cache", "refreshing"), ("outcome", outcome)],
        )
    };
    assert_eq!(requests("miss"), 1);
    assert_eq!(requests("stale"), 2);
    assert!(requests("hit") >= 1, "the polling gets are hits");
    assert_eq!(loads("ok"), 2);
    assert_eq!(loads("error"), 1);
}

#[tokio::test]
async fn eviction_causes_are_counted_and_the_entries_gauge_follows() {
    let mut settings = CacheSettings::new("evicting");
    settings.max_capacity = 10;
    let (cache, snapshotter) = observed_cache(settings);

    for i in 0..100 {
        cache.insert(format!("size-{i}"), "v".to_owned()).await;
    }
    cache.run_pending_tasks().await;
    let kept = cache.entry_count();
    assert!(kept <= 10, "{kept} entries kept in a 10-entry cache");

    let seen = Observed::take(&snapshotter);
    let evictions = |cause| {
        seen.counter(
            "cache_evictions_total",
            &[("cache", "evicting"), ("cause", cause)],
        )
    };
    assert_eq!(evictions("size"), 100 - kept);
    assert_eq!(evictions("expired"), 0);
    assert_eq!(
        seen.gauge("cache_entries", &[("cache", "evicting")]),
        kept as f64
    );
}

#[tokio::test]
async fn expired_explicit_and_replaced_evictions_are_counted() {
    let mut settings = CacheSettings::new("causes");
    settings.ttl = Some(Duration::from_millis(100));
    let (cache, snapshotter) = observed_cache(settings);

    for i in 0..5 {
        cache.insert(format!("expiring-{i}"), "v".to_owned()).await;
    }
    // moka's timer wheel removes expired entries with about 1 s of granularity (reads stop
    // seeing them at once): poll housekeeping until they are gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cache.run_pending_tasks().await;
        if cache.entry_count() == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expired entries were never removed"
        );
    }

    // Fresh entries, written after the others expired.
    cache.insert("replaced".to_owned(), "v1".to_owned()).await;
    cache.insert("replaced".to_owned(), "v2".to_owned()).await;
    cache.insert("explicit".to_owned(), "v".to_owned()).await;
    cache.invalidate("explicit").await;
    cache.insert("all-1".to_owned(), "v".to_owned()).await;
    cache.insert("all-2".to_owned(), "v".to_owned()).await;
    cache.run_pending_tasks().await;
    cache.invalidate_all();
    cache.run_pending_tasks().await;

    let seen = Observed::take(&snapshotter);
    let evictions = |cause| {
        seen.counter(
            "cache_evictions_total",
            &[("cache", "causes"), ("cause", cause)],
        )
    };
    assert_eq!(evictions("expired"), 5);
    assert_eq!(evictions("replaced"), 1);
    // invalidate("explicit") + invalidate_all() on "replaced", "all-1", "all-2".
    assert_eq!(evictions("explicit"), 4);
    assert_eq!(evictions("size"), 0);
    assert_eq!(cache.entry_count(), 0);
    assert_eq!(seen.gauge("cache_entries", &[("cache", "causes")]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coalesced_callers_are_all_counted_with_one_load() {
    let (cache, snapshotter) = observed_cache(CacheSettings::new("coalesced"));
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (cache, barrier) = (cache.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                cache
                    .get_or_load("k".to_owned(), || async {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Ok::<_, SourceDown>(Some("v".to_owned()))
                    })
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().as_deref(), Some("v"));
    }

    let seen = Observed::take(&snapshotter);
    let requests = |result| {
        seen.counter(
            "cache_requests_total",
            &[("cache", "coalesced"), ("tier", "l1"), ("result", result)],
        )
    };
    // Callers that waited on the one load are misses; any that came after it are hits.
    assert_eq!(requests("miss") + requests("hit"), 100);
    assert!(requests("miss") >= 1);
    assert_eq!(
        seen.counter(
            "cache_loads_total",
            &[("cache", "coalesced"), ("outcome", "ok")]
        ),
        1
    );
    assert_eq!(seen.gauge("cache_entries", &[("cache", "coalesced")]), 1.0);
}

#[tokio::test]
async fn a_value_over_its_share_of_the_budget_is_served_not_cached_and_counted() {
    let mut settings = CacheSettings::new("large");
    settings.max_bytes = boost_config::ByteSize::kib(100);
    settings.max_entry_share = 0.1; // 10 KiB
    let (cache, snapshotter) = observed_cache(settings);

    // Loaded values are returned to the caller, but not kept.
    let big = "x".repeat(20 * 1024);
    let answer = {
        let big = big.clone();
        cache
            .get_or_load("big".to_owned(), move || async move {
                Ok::<_, SourceDown>(Some(big))
            })
            .await
            .unwrap()
    };
    assert_eq!(answer.as_deref(), Some(big.as_str()));
    assert_eq!(cache.get("big").await, None, "a too-large value was cached");

    // An insert of a too-large value drops the key's old answer rather than keep it stale.
    cache.insert("k".to_owned(), "small".to_owned()).await;
    cache.insert("k".to_owned(), big.clone()).await;
    assert_eq!(cache.get("k").await, None, "the old answer survived");

    cache.insert("ok".to_owned(), "y".repeat(1024)).await;
    cache.run_pending_tasks().await;
    let seen = Observed::take(&snapshotter);
    assert_eq!(
        seen.counter(
            "cache_rejected_total",
            &[("cache", "large"), ("reason", "too_large")]
        ),
        2
    );
    let bytes = seen.gauge("cache_bytes", &[("cache", "large")]);
    assert!(
        (1024.0..4096.0).contains(&bytes),
        "cache_bytes is {bytes} with one 1 KiB value held"
    );
    assert_eq!(seen.gauge("cache_entries", &[("cache", "large")]), 1.0);
}

/// A caller that waits on another caller's load is a miss, never a hit: it found nothing
/// cached. Deterministic: the waiter is seen pending before the load may finish.
#[tokio::test]
async fn a_caller_waiting_on_another_callers_load_is_a_miss() {
    let (cache, snapshotter) = observed_cache(CacheSettings::new("waiter"));
    let (release, gate) = tokio::sync::oneshot::channel::<()>();
    let started = Arc::new(AtomicBool::new(false));
    let loader_started = Arc::clone(&started);
    let first = tokio::spawn({
        let cache = cache.clone();
        async move {
            cache
                .get_or_load("k".to_owned(), move || async move {
                    loader_started.store(true, Ordering::SeqCst);
                    let _ = gate.await;
                    Ok::<_, SourceDown>(Some("v".to_owned()))
                })
                .await
                .unwrap()
        }
    });
    while !started.load(Ordering::SeqCst) {
        tokio::task::yield_now().await;
    }
    let mut waiter = pin!(cache.get_or_load("k".to_owned(), || async {
        Ok::<_, SourceDown>(Some("not this one".to_owned()))
    }));
    let first_poll = poll_fn(|cx| Poll::Ready(waiter.as_mut().poll(cx).is_pending())).await;
    assert!(
        first_poll,
        "the load is held open, so the second caller must wait"
    );
    release.send(()).unwrap();
    assert_eq!(first.await.unwrap().as_deref(), Some("v"));
    assert_eq!(waiter.await.unwrap().as_deref(), Some("v"));
    load(&cache, "k", Ok(Some("unused"))).await; // a hit

    let seen = Observed::take(&snapshotter);
    let requests = |result| {
        seen.counter(
            "cache_requests_total",
            &[("cache", "waiter"), ("tier", "l1"), ("result", result)],
        )
    };
    assert_eq!(requests("miss"), 2, "the loading caller and the waiter");
    assert_eq!(requests("hit"), 1, "only the call after the load");
}
