//! Capacity in entries or by weight, and time-to-idle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use boost_cache::{Cache, CacheSettings};

#[tokio::test]
async fn a_weigher_makes_max_capacity_a_total_weight() {
    let mut settings = CacheSettings::new("weighted");
    settings.max_capacity = 100; // bytes
    let cache: Cache<u32, Vec<u8>> = Cache::builder(settings)
        .weigher(|_key, value: &Vec<u8>| u32::try_from(value.len()).unwrap())
        .build()
        .unwrap();
    for key in 0..10 {
        cache.insert(key, vec![0; 30]).await;
    }
    cache.run_pending_tasks().await;
    let kept = cache.entry_count();
    assert!(
        (1..=3).contains(&kept),
        "{kept} entries of 30 bytes kept in 100 bytes"
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
            cache.get("read").await,
            Some(1),
            "a key read every 50 ms went idle"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        cache.get("idle").await,
        None,
        "a key unread for 1.5 s outlived its 600 ms tti"
    );
}
