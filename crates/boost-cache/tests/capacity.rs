//! Capacity in entries and in bytes, and time-to-idle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use boost_cache::{Cache, CacheSettings};
use boost_config::ByteSize;

#[tokio::test]
async fn max_bytes_bounds_the_memory_values_hold() {
    // The defect: 300 profiles of 4 MiB took a 10,000-entry cache to 1.27 GB.
    let mut settings = CacheSettings::new("by_bytes");
    settings.max_bytes = ByteSize::mib(4);
    settings.max_entry_share = 0.5;
    let cache: Cache<u32, String> = Cache::new(settings).unwrap();
    for key in 0..300 {
        cache.insert(key, "x".repeat(256 * 1024)).await;
    }
    cache.run_pending_tasks().await;
    let kept = cache.entry_count();
    assert!(
        (1..=16).contains(&kept),
        "{kept} values of 256 KiB kept in a 4 MiB budget"
    );
    assert!(
        cache.weighted_size() <= ByteSize::mib(4).as_u64(),
        "{} bytes held",
        cache.weighted_size()
    );
}

#[tokio::test]
async fn the_default_budget_bounds_large_values_too() {
    let cache: Cache<u32, String> = Cache::new(CacheSettings::new("defaults")).unwrap();
    // Values of 600 KB: under the default 1% share of 64 MiB, so they are cached.
    for key in 0..300 {
        cache.insert(key, "x".repeat(600_000)).await;
    }
    cache.run_pending_tasks().await;
    assert!(
        cache.weighted_size() <= ByteSize::mib(64).as_u64(),
        "{} bytes held by default",
        cache.weighted_size()
    );
    assert!(
        cache.entry_count() <= 112,
        "{} entries",
        cache.entry_count()
    );
}

#[tokio::test]
async fn max_capacity_still_bounds_the_number_of_small_entries() {
    let mut settings = CacheSettings::new("by_count");
    settings.max_capacity = 10;
    let cache: Cache<u32, u32> = Cache::new(settings).unwrap();
    for key in 0..100 {
        cache.insert(key, key).await;
    }
    cache.run_pending_tasks().await;
    let kept = cache.entry_count();
    assert!(
        (1..=10).contains(&kept),
        "{kept} entries kept of at most 10"
    );
}

#[tokio::test]
async fn entries_not_read_for_tti_are_dropped_while_read_ones_stay() {
    let mut settings = CacheSettings::new("idle");
    settings.tti = Some(Duration::from_millis(600));
    let cache: Cache<&'static str, u32> = Cache::new(settings).unwrap();
    cache.insert("read", 1).await;
    cache.insert("idle", 2).await;

    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        assert_eq!(
            cache.get(&"read").await,
            Some(1),
            "a key read every 50 ms went idle"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        cache.get(&"idle").await,
        None,
        "a key unread for 1.5 s outlived its 600 ms tti"
    );
}
