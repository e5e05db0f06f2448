//! The shared second tier against a real `redis-server` (Debian package `redis-server`),
//! started by each test on a free loopback port: caches built as three replicas share loads,
//! coalesce cold keys across replicas, see each other's invalidations, survive Redis going
//! away and coming back, and read entries of an older value type as misses.
//!
//! Needs the `redis` feature (on in a workspace build: the benches enable it).
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use boost_cache::{ByteSize, Cache, CacheSettings, L2Settings};
use boost_test_redis::RedisServer;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use serde::{Deserialize, Serialize};
use tokio::sync::Barrier;

#[derive(Debug)]
struct SourceDown;

fn settings(name: &str, server: &RedisServer) -> CacheSettings {
    let mut settings = CacheSettings::new(name);
    settings.ttl = Some(Duration::from_secs(60));
    let mut l2 = L2Settings::redis(server.url());
    l2.key_prefix = "test:".to_owned();
    // Generous for a loaded machine; the fallback test sets its own.
    l2.timeout = Duration::from_secs(2);
    l2.connect_timeout = Duration::from_secs(2);
    settings.l2 = Some(l2);
    settings
}

/// Three caches on one Redis, as three replicas of a service would build them.
fn replicas(settings: &CacheSettings) -> [Cache<String, String>; 3] {
    std::array::from_fn(|_| Cache::two_tier(settings.clone()).unwrap())
}

/// Waits until every replica's invalidation subscription is up.
async fn subscribed<K, V>(caches: &[Cache<K, V>])
where
    K: std::hash::Hash + Eq + Clone + ByteSize + Send + Sync + 'static,
    V: Clone + ByteSize + Send + Sync + 'static,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !caches.iter().all(|c| c.l2_status().unwrap().subscribed) {
        assert!(Instant::now() < deadline, "replicas never subscribed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What the test loaders return.
type LoadFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<Option<String>, SourceDown>> + Send>>;

fn counting_loader(
    calls: &Arc<AtomicUsize>,
    value: &str,
    delay: Duration,
) -> impl FnOnce() -> LoadFuture + Send + 'static {
    let calls = Arc::clone(calls);
    let value = value.to_owned();
    move || {
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            Ok(Some(value))
        })
    }
}

/// The counters of one snapshot of a debugging recorder (a snapshot drains counters, so
/// take one and query it).
struct Counters(Vec<(String, BTreeMap<String, String>, u64)>);

impl Counters {
    fn take(snapshotter: &Snapshotter) -> Self {
        Self(
            snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .filter_map(|(key, _, _, value)| {
                    let DebugValue::Counter(n) = value else {
                        return None;
                    };
                    let labels = key
                        .key()
                        .labels()
                        .map(|l| (l.key().to_owned(), l.value().to_owned()))
                        .collect();
                    Some((key.key().name().to_owned(), labels, n))
                })
                .collect(),
        )
    }

    /// The counter's value; 0 when never registered.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.0
            .iter()
            .filter(|(n, l, _)| n == name && *l == wanted)
            .map(|(_, _, v)| v)
            .sum()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn a_value_loaded_by_one_replica_is_an_l2_hit_for_the_others() {
    let server = RedisServer::start();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let mut settings = settings("shared", &server);
    settings.negative_ttl = Some(Duration::from_secs(60));
    let [a, b, c] = metrics::with_local_recorder(&recorder, || replicas(&settings));
    let calls = Arc::new(AtomicUsize::new(0));

    let value = a
        .get_or_load(
            "ada".to_owned(),
            counting_loader(&calls, "en", Duration::ZERO),
        )
        .await
        .unwrap();
    assert_eq!(value.as_deref(), Some("en"));
    for replica in [&b, &c] {
        let value = replica
            .get_or_load(
                "ada".to_owned(),
                counting_loader(&calls, "WRONG", Duration::ZERO),
            )
            .await
            .unwrap();
        assert_eq!(value.as_deref(), Some("en"));
        assert!(
            replica.contains_key("ada"),
            "an L2 hit is kept in memory too"
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "only the first replica loads"
    );

    // `get` (no loader) asks L2 as well.
    let d = metrics::with_local_recorder(&recorder, || {
        Cache::<String, String>::two_tier(settings.clone()).unwrap()
    });
    assert_eq!(d.get("ada").await.as_deref(), Some("en"));

    // "Not found" is shared too, with its own TTL.
    let absent = a
        .get_or_load("nobody".to_owned(), || async { Ok::<_, SourceDown>(None) })
        .await
        .unwrap();
    assert_eq!(absent, None);
    let absent = b
        .get_or_load(
            "nobody".to_owned(),
            counting_loader(&calls, "WRONG", Duration::ZERO),
        )
        .await
        .unwrap();
    assert_eq!(absent, None, "the absence cached by another replica");
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // `insert` writes through.
    a.insert("bob".to_owned(), "fr".to_owned()).await;
    assert_eq!(c.get("bob").await.as_deref(), Some("fr"));

    let counters = Counters::take(&snapshotter);
    let l2 = |result| {
        counters.get(
            "cache_requests_total",
            &[("cache", "shared"), ("tier", "l2"), ("result", result)],
        )
    };
    assert_eq!(l2("hit"), 5, "b, c, d for ada; b for nobody; c for bob");
    assert_eq!(l2("miss"), 2, "a for ada and for nobody");
    let l1_miss = counters.get(
        "cache_requests_total",
        &[("cache", "shared"), ("tier", "l1"), ("result", "miss")],
    );
    assert_eq!(l1_miss, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn with_coalescing_three_replicas_times_fifty_cold_lookups_load_once() {
    let server = RedisServer::start();
    let mut settings = settings("coalesced", &server);
    if let Some(l2) = settings.l2.as_mut() {
        l2.coalesce = true;
        l2.lease = Duration::from_secs(10);
    }
    let caches = replicas(&settings);
    let calls = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(150));
    let mut tasks = Vec::new();
    for cache in &caches {
        for _ in 0..50 {
            let (cache, calls, barrier) = (cache.clone(), calls.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                cache
                    .get_or_load(
                        "cold".to_owned(),
                        // Long enough that every replica arrives while the load is in flight.
                        counting_loader(&calls, "42", Duration::from_millis(300)),
                    )
                    .await
            }));
        }
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().as_deref(), Some("42"));
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the fleet loaded the key once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn an_invalidation_reaches_the_other_replicas_within_100ms() {
    let server = RedisServer::start();
    let settings = settings("invalidated", &server);
    let caches = replicas(&settings);
    subscribed(&caches).await;
    let calls = Arc::new(AtomicUsize::new(0));
    for key in ["ada", "bob"] {
        for cache in &caches {
            cache
                .get_or_load(
                    key.to_owned(),
                    counting_loader(&calls, "en", Duration::ZERO),
                )
                .await
                .unwrap();
            assert!(cache.contains_key(key));
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let started = Instant::now();
    caches[0].invalidate("ada").await;
    assert!(!caches[0].contains_key("ada"));
    while caches[1..].iter().any(|c| c.contains_key("ada")) {
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "an invalidation took over 100 ms to reach the other replicas"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(caches[1].contains_key("bob"), "other keys are kept");
    // Deleted from Redis too: the next lookup loads again, once.
    caches[2]
        .get_or_load(
            "ada".to_owned(),
            counting_loader(&calls, "de", Duration::ZERO),
        )
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(caches[1].get("ada").await.as_deref(), Some("de"));

    let started = Instant::now();
    caches[0].invalidate_all_tiers().await;
    while caches[1..].iter().any(|c| c.contains_key("bob")) {
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "invalidate_all took over 100 ms to reach the other replicas"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(caches[2].get("bob").await, None, "deleted from Redis too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn redis_stopped_mid_run_never_fails_a_caller_and_is_used_again_after_the_probe() {
    let mut server = RedisServer::start();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let mut settings = settings("fallback", &server);
    let timeout = Duration::from_millis(200);
    if let Some(l2) = settings.l2.as_mut() {
        l2.timeout = timeout;
        l2.failure_threshold = 3;
        l2.open_for = Duration::from_millis(300);
    }
    let [a, b, _c] = metrics::with_local_recorder(&recorder, || replicas(&settings));
    subscribed(&[a.clone(), b.clone()]).await;
    let calls = Arc::new(AtomicUsize::new(0));
    a.get_or_load(
        "before".to_owned(),
        counting_loader(&calls, "1", Duration::ZERO),
    )
    .await
    .unwrap();
    assert_eq!(b.get("before").await.as_deref(), Some("1"));

    server.stop();
    let loader_time = Duration::from_millis(50);
    for i in 0..10 {
        let started = Instant::now();
        let value = a
            .get_or_load(
                format!("down{i}"),
                counting_loader(&calls, "v", loader_time),
            )
            .await
            .expect("Redis being down is not the caller's error");
        assert_eq!(value.as_deref(), Some("v"));
        let elapsed = started.elapsed();
        // The L2 timeout plus the loader's time, and room for a loaded machine.
        assert!(
            elapsed < timeout + loader_time + Duration::from_millis(400),
            "lookup {i} took {elapsed:?} with Redis down"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 11);
    assert!(!a.l2_status().unwrap().reachable, "the circuit opened");
    let not_ready = a.check_l2().await.unwrap_err().to_string();
    assert!(not_ready.contains("did not answer"), "{not_ready}");
    let counters = Counters::take(&snapshotter);
    let errors: u64 = ["error", "timeout", "circuit_open"]
        .iter()
        .map(|reason| {
            counters.get(
                "cache_l2_errors_total",
                &[("cache", "fallback"), ("reason", reason)],
            )
        })
        .sum();
    assert!(errors >= 10, "every fallback is counted ({errors})");
    // Memory still answers.
    assert_eq!(b.get("before").await.as_deref(), Some("1"));

    server.restart();
    // After `open_for`, one lookup probes Redis; once it answers, the circuit closes.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut i = 0;
    while !a.l2_status().unwrap().reachable {
        assert!(Instant::now() < deadline, "the circuit never closed again");
        tokio::time::sleep(Duration::from_millis(50)).await;
        i += 1;
        a.get_or_load(
            format!("probe{i}"),
            counting_loader(&calls, "p", Duration::ZERO),
        )
        .await
        .unwrap();
    }
    a.check_l2().await.expect("Redis answers again");
    // L2 is used again: a value loaded by `a` now is a hit for `b`.
    let before = calls.load(Ordering::SeqCst);
    a.get_or_load(
        "after".to_owned(),
        counting_loader(&calls, "2", Duration::ZERO),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // `b`'s own connection may need a failed command or two to notice the restart.
        let value = b
            .get_or_load(
                "after".to_owned(),
                counting_loader(&calls, "2", Duration::ZERO),
            )
            .await
            .unwrap();
        assert_eq!(value.as_deref(), Some("2"));
        if calls.load(Ordering::SeqCst) == before + 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "b never read a's value from Redis again"
        );
        b.invalidate("after").await;
        a.insert("after".to_owned(), "2".to_owned()).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The resubscribed replicas dropped what they held: they may have missed invalidations.
    subscribed(&[a.clone(), b.clone()]).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.contains_key("before") {
        assert!(
            Instant::now() < deadline,
            "b kept its memory after reconnecting"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ProfileV1 {
    name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ProfileV2 {
    name: String,
    languages: Vec<String>,
}

impl ByteSize for ProfileV1 {
    fn byte_size(&self) -> usize {
        size_of::<Self>() + self.name.len()
    }
}

impl ByteSize for ProfileV2 {
    fn byte_size(&self) -> usize {
        size_of::<Self>() + self.name.len() + self.languages.iter().map(String::len).sum::<usize>()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn an_entry_of_an_older_value_type_is_a_counted_miss_not_a_panic() {
    let server = RedisServer::start();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let settings = settings("profiles", &server);
    let old: Cache<String, ProfileV1> = metrics::with_local_recorder(&recorder, || {
        Cache::builder(settings.clone())
            .schema_version(1)
            .build_two_tier()
            .unwrap()
    });
    let new_same_schema: Cache<String, ProfileV2> = metrics::with_local_recorder(&recorder, || {
        Cache::builder(settings.clone())
            .schema_version(1)
            .build_two_tier()
            .unwrap()
    });
    let new: Cache<String, ProfileV2> = metrics::with_local_recorder(&recorder, || {
        Cache::builder(settings.clone())
            .schema_version(2)
            .build_two_tier()
            .unwrap()
    });
    old.insert("ada".to_owned(), ProfileV1 { name: "Ada".into() })
        .await;
    old.insert("bob".to_owned(), ProfileV1 { name: "Bob".into() })
        .await;

    let v2 = ProfileV2 {
        name: "Ada".into(),
        languages: vec!["en".into()],
    };
    // A new release that bumped the schema version: a miss, loaded, written back.
    let loaded = new
        .get_or_load("ada".to_owned(), {
            let v2 = v2.clone();
            move || async move { Ok::<_, SourceDown>(Some(v2)) }
        })
        .await
        .unwrap();
    assert_eq!(loaded.as_ref(), Some(&v2));
    // A release that forgot to bump it: the bytes do not decode as the new type; a miss too.
    assert_eq!(new_same_schema.get("bob").await, None);
    // Junk under a key: a miss.
    server.set_raw("test:profiles:carl", b"\x00\xff not an entry");
    assert_eq!(new.get("carl").await, None);

    let counters = Counters::take(&snapshotter);
    let errors = |reason| {
        counters.get(
            "cache_l2_errors_total",
            &[("cache", "profiles"), ("reason", reason)],
        )
    };
    assert_eq!(errors("schema"), 1);
    assert_eq!(errors("decode"), 2);
    // The new entry replaced the old one for readers of the new version.
    let reader: Cache<String, ProfileV2> = Cache::builder(settings.clone())
        .schema_version(2)
        .build_two_tier()
        .unwrap();
    assert_eq!(reader.get("ada").await, Some(v2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn oversized_values_and_keys_skip_the_second_tier() {
    let server = RedisServer::start();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let mut settings = settings("bounded", &server);
    if let Some(l2) = settings.l2.as_mut() {
        l2.max_value_bytes = boost_config::ByteSize::b(64);
        l2.max_key_bytes = 32;
    }
    let [a, b, _] = metrics::with_local_recorder(&recorder, || replicas(&settings));
    let calls = Arc::new(AtomicUsize::new(0));
    let big = "x".repeat(100);
    for cache in [&a, &b] {
        let value = cache
            .get_or_load(
                "big".to_owned(),
                counting_loader(&calls, &big, Duration::ZERO),
            )
            .await
            .unwrap();
        assert_eq!(value.as_deref(), Some(big.as_str()));
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "too large for L2: each replica loads"
    );
    // A value written by someone else, bigger than the limit, is not read whole: a miss.
    server.set_raw("test:bounded:huge", &[b'y'; 1000]);
    assert_eq!(a.get("huge").await, None);
    let long_key = "k".repeat(40);
    for cache in [&a, &b] {
        cache
            .get_or_load(
                long_key.clone(),
                counting_loader(&calls, "v", Duration::ZERO),
            )
            .await
            .unwrap();
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "too long a key for L2: each replica loads"
    );
    let counters = Counters::take(&snapshotter);
    let errors = |reason| {
        counters.get(
            "cache_l2_errors_total",
            &[("cache", "bounded"), ("reason", reason)],
        )
    };
    assert_eq!(errors("too_large"), 3, "two writes and one read");
    assert!(errors("key_too_long") >= 2);
}

#[test]
fn building_outside_a_runtime_or_without_build_two_tier_says_what_to_do() {
    let mut settings = CacheSettings::new("orphan");
    settings.ttl = Some(Duration::from_secs(1));
    settings.l2 = Some(L2Settings::redis("redis://127.0.0.1:1"));
    let error = Cache::<String, String>::two_tier(settings.clone()).unwrap_err();
    assert!(error.to_string().contains("no Tokio runtime"), "{error}");
    let error = Cache::<String, String>::new(settings).unwrap_err();
    assert!(error.to_string().contains("build_two_tier"), "{error}");
}

#[tokio::test]
async fn a_cache_builds_while_redis_is_unreachable_and_answers_from_the_loader() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = CacheSettings::new("unreachable");
    settings.ttl = Some(Duration::from_secs(60));
    let mut l2 = L2Settings::redis(format!("redis://user:s3cret@127.0.0.1:{port}"));
    l2.timeout = Duration::from_millis(200);
    settings.l2 = Some(l2);
    let cache: Cache<String, String> = Cache::two_tier(settings).unwrap();
    assert!(!format!("{:?}", cache.settings()).contains("s3cret"));
    let value = cache
        .get_or_load("k".to_owned(), || async {
            Ok::<_, SourceDown>(Some("v".to_owned()))
        })
        .await
        .unwrap();
    assert_eq!(value.as_deref(), Some("v"));
    assert_eq!(cache.get("k").await.as_deref(), Some("v"), "kept in memory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn a_two_tier_hit_due_for_refresh_is_served_and_reloaded_into_both_tiers() {
    let server = RedisServer::start();
    let mut settings = settings("refreshed", &server);
    settings.refresh_after = Some(Duration::from_millis(100));
    let [a, b, _] = replicas(&settings);
    let calls = Arc::new(AtomicUsize::new(0));
    let first = a
        .get_or_load(
            "k".to_owned(),
            counting_loader(&calls, "v1", Duration::ZERO),
        )
        .await
        .unwrap();
    assert_eq!(first.as_deref(), Some("v1"));
    tokio::time::sleep(Duration::from_millis(250)).await;

    let stale = a
        .get_or_load(
            "k".to_owned(),
            counting_loader(&calls, "v2", Duration::ZERO),
        )
        .await
        .unwrap();
    assert_eq!(
        stale.as_deref(),
        Some("v1"),
        "a stale hit is served at once"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.get("k").await.as_deref() != Some("v2") {
        assert!(
            Instant::now() < deadline,
            "the background refresh never landed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one background reload");
    let other = b
        .get_or_load(
            "k".to_owned(),
            counting_loader(&calls, "WRONG", Duration::ZERO),
        )
        .await
        .unwrap();
    assert_eq!(
        other.as_deref(),
        Some("v2"),
        "the reload was written to Redis too"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
