//! Invalidations across replicas: each cache with a Redis tier subscribes to its channel and
//! drops from memory the keys other replicas invalidate.
//!
//! A replica that was disconnected may have missed messages, so after every reconnect (and
//! after a first subscription that only succeeded after failures) it drops its whole memory:
//! the next lookups are answered by Redis, which is the shared truth.

use std::hash::Hash;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use boost_config::Endpoint;
use tokio_stream::StreamExt;

use super::circuit::RateLimitedLog;
use super::{ALL, ONE};
use crate::entry::L1;

/// First and longest pause between reconnection attempts.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LONGEST_RETRY: Duration = Duration::from_secs(2);

/// What the listening task needs.
pub(crate) struct Listener {
    pub(crate) name: String,
    pub(crate) url: Endpoint,
    pub(crate) client: redis::Client,
    pub(crate) channel: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) subscribed: Arc<AtomicBool>,
    pub(crate) log: RateLimitedLog,
}

/// Subscribes to the cache's channel and applies its messages to `l1`, reconnecting forever
/// (the task is aborted when the cache is dropped).
pub(crate) async fn listen<K, V>(listener: Listener, l1: L1<K, V>)
where
    K: Hash + Eq + FromStr + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    let mut clean = true; // no message can have been missed yet
    let mut retry = FIRST_RETRY;
    loop {
        match subscribe(&listener).await {
            Ok(mut pubsub) => {
                if !clean {
                    l1.invalidate_all();
                    tracing::info!(
                        cache = %listener.name,
                        url = %listener.url,
                        "cache invalidation channel (Redis pub/sub) connected again; dropped \
                         this replica's in-memory entries, which may have missed invalidations"
                    );
                }
                listener.subscribed.store(true, Ordering::Relaxed);
                retry = FIRST_RETRY;
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    apply(&l1, message.get_payload_bytes()).await;
                }
                listener.subscribed.store(false, Ordering::Relaxed);
                if let Some(suppressed) = listener.log.permit() {
                    tracing::warn!(
                        cache = %listener.name,
                        url = %listener.url,
                        suppressed,
                        "cache invalidation channel (Redis pub/sub) lost; reconnecting"
                    );
                }
            }
            Err(error) => {
                if let Some(suppressed) = listener.log.permit() {
                    tracing::warn!(
                        cache = %listener.name,
                        url = %listener.url,
                        error,
                        suppressed,
                        "cache invalidation channel (Redis pub/sub) cannot subscribe; retrying \
                         (invalidations from other replicas are missed meanwhile)"
                    );
                }
            }
        }
        clean = false;
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LONGEST_RETRY);
    }
}

/// A connection subscribed to the cache's channel.
async fn subscribe(listener: &Listener) -> Result<redis::aio::PubSub, String> {
    let timeout = listener.connect_timeout;
    let masked = |e: redis::RedisError| listener.url.mask_in(&e.to_string());
    let mut pubsub = tokio::time::timeout(timeout, listener.client.get_async_pubsub())
        .await
        .map_err(|_| "connecting timed out".to_owned())?
        .map_err(masked)?;
    tokio::time::timeout(timeout, pubsub.subscribe(&listener.channel))
        .await
        .map_err(|_| "SUBSCRIBE timed out".to_owned())?
        .map_err(masked)?;
    Ok(pubsub)
}

/// Applies one message: `*` drops everything, `k:<key>` drops one key; anything else (a key
/// this replica cannot parse) is ignored.
async fn apply<K, V>(l1: &L1<K, V>, payload: &[u8])
where
    K: Hash + Eq + FromStr + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    if payload == ALL {
        l1.invalidate_all();
    } else if let Some(key) = parse::<K>(payload) {
        l1.invalidate(&key).await;
    }
}

/// The key of a `k:<key>` message.
fn parse<K: FromStr>(payload: &[u8]) -> Option<K> {
    let key = std::str::from_utf8(payload.strip_prefix(ONE)?).ok()?;
    key.parse::<K>().ok()
}
