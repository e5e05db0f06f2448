//! The `redis` backend's follower: keeps this replica's switches in step
//! with the overrides in Redis.

use std::sync::Weak;
use std::time::Duration;

use tokio_stream::StreamExt;

use crate::redis_backend::RedisBackend;
use crate::store::{Inner, Switches};

/// First and longest pause between attempts to reach Redis again.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LONGEST_RETRY: Duration = Duration::from_secs(2);

/// Subscribes to the change channel and reads every override again on each
/// announcement, every `resync_interval`, and after every reconnect; runs
/// until the switches are dropped. While Redis is unreachable the switches
/// keep the last state read.
pub(crate) async fn follow(switches: Weak<Inner>, redis: RedisBackend) {
    let mut retry = FIRST_RETRY;
    let mut reachable = true;
    loop {
        let Some(alive) = upgrade(&switches) else {
            return;
        };
        let subscribed = redis.subscribe().await;
        // Read after subscribing: a change between the two is then seen twice,
        // never missed.
        let loaded = match &subscribed {
            Ok(_) => alive.resync(&redis).await,
            Err(_) => Ok(()),
        };
        drop(alive);
        match (subscribed, loaded) {
            (Ok(pubsub), Ok(())) => {
                if !reachable {
                    tracing::info!(url = %redis.url, "switches: Redis reachable again; in step");
                }
                retry = FIRST_RETRY;
                if !listen(&switches, &redis, pubsub).await {
                    return;
                }
                tracing::warn!(url = %redis.url,
                    "switches: lost the Redis change channel; keeping the last state, reconnecting");
                reachable = false;
            }
            (Err(e), _) | (_, Err(e)) => {
                if reachable {
                    tracing::warn!(error = %e,
                        "switches: Redis unreachable; keeping the last state read (changes \
                         answer 503 until it is back)");
                    reachable = false;
                }
            }
        }
        if upgrade(&switches).is_none() {
            return;
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LONGEST_RETRY);
    }
}

/// Follows announcements and the resync timer until the channel breaks
/// (`true`) or the switches are dropped (`false`).
async fn listen(switches: &Weak<Inner>, redis: &RedisBackend, pubsub: redis::aio::PubSub) -> bool {
    let mut messages = pubsub.into_on_message();
    let mut resync = tokio::time::interval(redis.resync_interval);
    resync.tick().await;
    loop {
        tokio::select! {
            message = messages.next() => {
                if message.is_none() {
                    return true;
                }
            }
            _ = resync.tick() => {}
        }
        let Some(alive) = upgrade(switches) else {
            return false;
        };
        if let Err(e) = alive.resync(redis).await {
            tracing::warn!(error = %e, "switches: could not read the overrides from Redis");
            return true;
        }
    }
}

fn upgrade(switches: &Weak<Inner>) -> Option<Switches> {
    switches.upgrade().map(Switches::from_inner)
}
