//! `ttl_jitter` spreads the expiry of entries written together across `ttl × (1 ± jitter)`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use boost_cache::{Cache, CacheSettings};

const ENTRIES: u32 = 1000;

/// How many of the entries are still cached.
async fn remaining(cache: &Cache<u32, u32>) -> u32 {
    let mut count = 0;
    for key in 0..ENTRIES {
        if cache.get(&key).await.is_some() {
            count += 1;
        }
    }
    count
}

/// Sleeps until `at` (no-op if already past).
async fn sleep_until(at: Instant) {
    tokio::time::sleep(at.saturating_duration_since(Instant::now())).await;
}

#[tokio::test]
async fn entries_written_together_expire_spread_across_the_jitter_band() {
    // ttl 1 s ± 50%: lifetimes uniform in [0.5 s, 1.5 s).
    let mut settings = CacheSettings::new("jitter");
    settings.ttl = Some(Duration::from_secs(1));
    settings.ttl_jitter = 0.5;
    let cache: Cache<u32, u32> = Cache::builder(settings).seed(2024).build().unwrap();

    let written = Instant::now();
    for key in 0..ENTRIES {
        cache.insert(key, key).await;
    }

    // Before the band's lower edge, nothing has expired.
    sleep_until(written + Duration::from_millis(300)).await;
    let early = remaining(&cache).await;
    assert_eq!(early, ENTRIES, "an entry expired before ttl × (1 - jitter)");

    // In the middle of the band about half have expired — not all, not none. The window is
    // wide because a loaded machine may wake us late: waking 250 ms late still leaves ~25%.
    sleep_until(written + Duration::from_millis(1000)).await;
    let middle = remaining(&cache).await;
    assert!(
        (ENTRIES / 10..=ENTRIES * 9 / 10).contains(&middle),
        "{middle} of {ENTRIES} left at the band's middle: expiry is not spread"
    );

    // Past the band's upper edge, all have expired.
    sleep_until(written + Duration::from_millis(2200)).await;
    assert_eq!(
        remaining(&cache).await,
        0,
        "an entry outlived ttl × (1 + jitter)"
    );
}

#[tokio::test]
async fn without_jitter_entries_written_together_expire_together() {
    let mut settings = CacheSettings::new("no-jitter");
    settings.ttl = Some(Duration::from_millis(600));
    settings.ttl_jitter = 0.0;
    let cache: Cache<u32, u32> = Cache::new(settings).unwrap();
    for key in 0..ENTRIES {
        cache.insert(key, key).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(remaining(&cache).await, ENTRIES);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(remaining(&cache).await, 0);
}
