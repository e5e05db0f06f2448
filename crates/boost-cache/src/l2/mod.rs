//! The shared second tier on Redis (cargo feature `redis`).
//!
//! One [`RedisTier`] per cache: a small pool of redis-rs `ConnectionManager`s (each a
//! multiplexed connection that reconnects by itself), every command bounded by the
//! configured timeout and gated by a [`Circuit`], and a task that listens for invalidations
//! on the cache's pub/sub channel (see [`pubsub`]).

mod circuit;
pub(crate) mod codec;
mod pubsub;

use std::fmt::{Display, Write as _};
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use boost_config::Endpoint;
use metrics::Histogram;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cache::Cache;
use crate::jitter::Jitter;
use crate::metrics::L2Metrics;
use crate::size::ByteSize;
use crate::tier::{BoxFuture, L2Status, Lease, Lookup, SecondTier};
use circuit::{Change, Circuit, RateLimitedLog};

/// How often a failing second tier may log a warning.
const LOG_INTERVAL: Duration = Duration::from_secs(10);
/// First and longest pause between polls while waiting on another replica's lease.
const FIRST_POLL: Duration = Duration::from_millis(5);
const LONGEST_POLL: Duration = Duration::from_millis(50);
/// Keys per `SCAN` round of `invalidate_all`.
const SCAN_COUNT: u32 = 1000;
/// The pub/sub message that drops every replica's memory.
pub(crate) const ALL: &[u8] = b"*";
/// The prefix of a pub/sub message that drops one key.
pub(crate) const ONE: &[u8] = b"k:";

/// A cache's Redis tier.
pub(crate) struct RedisTier<K, V> {
    name: String,
    url: Endpoint,
    /// The pool: `primary` and `others`, so it is never empty.
    primary: ConnectionManager,
    others: Vec<ConnectionManager>,
    next: AtomicUsize,
    /// `<key_prefix><name>:`, the prefix of every value key.
    value_base: String,
    /// `<key_prefix><name>~lease:`, the prefix of every lease key.
    lease_base: String,
    /// `<key_prefix><name>~invalidations`
    channel: String,
    ttl: Duration,
    negative_ttl: Option<Duration>,
    timeout: Duration,
    max_value_bytes: usize,
    /// `max_value_bytes` as `GETRANGE`'s end argument, rendered once: formatting the number
    /// on every read cost more than the rest of the argument's encoding.
    read_end: String,
    max_key_bytes: usize,
    coalesce: bool,
    lease: Duration,
    schema: u32,
    jitter: Jitter,
    circuit: Circuit,
    log: RateLimitedLog,
    metrics: L2Metrics,
    subscribed: Arc<AtomicBool>,
    listener: tokio::task::JoinHandle<()>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Drop for RedisTier<K, V> {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Adds a Redis tier to `cache`, built from its settings' `l2` section.
pub(crate) fn attach<K, V>(
    mut cache: Cache<K, V>,
    seed: u64,
    schema: u32,
) -> Result<Cache<K, V>, crate::Error>
where
    K: Hash + Eq + Clone + ByteSize + Display + FromStr + Send + Sync + 'static,
    V: Clone + ByteSize + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let settings = cache.shared.settings.clone();
    let name = settings.name.clone();
    let fail = |reason: String| crate::Error::SecondTier {
        cache: name.clone(),
        reason,
    };
    let Some(l2) = settings.l2.clone() else {
        return Err(fail("the settings have no `l2` section".to_owned()));
    };
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        fail(
            "no Tokio runtime is running: build the cache inside the service's runtime \
             (after `#[tokio::main]`, or in a `#[tokio::test]`)"
                .to_owned(),
        )
    })?;
    let client = redis::Client::open(l2.url.expose()).map_err(|e| {
        fail(format!(
            "l2.url {} cannot be used: {}",
            l2.url,
            l2.url.mask_in(&e.to_string())
        ))
    })?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(l2.connect_timeout))
        // No response timeout of redis-rs's own: `run` bounds every command (and a
        // reconnect) by `l2.timeout`; a second timer per command would only cost.
        .set_response_timeout(None)
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_secs(1));
    let connect = || {
        client
            .get_connection_manager_lazy(config.clone())
            .map_err(|e| {
                fail(format!(
                    "cannot set up the Redis client: {}",
                    l2.url.mask_in(&e.to_string())
                ))
            })
    };
    let primary = connect()?;
    let others = (1..l2.pool_size.clamp(1, 64))
        .map(|_| connect())
        .collect::<Result<Vec<_>, _>>()?;
    let Some(ttl) = l2.ttl.or(settings.ttl) else {
        return Err(fail(
            "neither l2.ttl nor ttl is set; entries in Redis need a lifetime".to_owned(),
        ));
    };
    let base = format!("{}{}", l2.key_prefix, name);
    let subscribed = Arc::new(AtomicBool::new(false));
    let channel = format!("{base}~invalidations");
    let listener = runtime.spawn(pubsub::listen(
        pubsub::Listener {
            name: name.clone(),
            url: l2.url.clone(),
            client,
            channel: channel.clone(),
            connect_timeout: l2.connect_timeout,
            subscribed: Arc::clone(&subscribed),
            log: RateLimitedLog::new(LOG_INTERVAL),
        },
        cache.inner.clone(),
    ));
    let tier = RedisTier::<K, V> {
        name: name.clone(),
        url: l2.url.clone(),
        primary,
        others,
        next: AtomicUsize::new(0),
        value_base: format!("{base}:"),
        lease_base: format!("{base}~lease:"),
        channel,
        ttl,
        negative_ttl: l2.negative_ttl.or(settings.negative_ttl),
        timeout: l2.timeout,
        max_value_bytes: usize::try_from(l2.max_value_bytes.as_u64()).unwrap_or(usize::MAX),
        read_end: l2.max_value_bytes.as_u64().to_string(),
        max_key_bytes: l2.max_key_bytes as usize,
        coalesce: l2.coalesce,
        lease: l2.lease,
        schema,
        jitter: Jitter::new(settings.ttl_jitter, seed.rotate_left(17) ^ 0x5EED),
        circuit: Circuit::new(l2.failure_threshold, l2.open_for),
        log: RateLimitedLog::new(LOG_INTERVAL),
        metrics: L2Metrics::register(&name),
        subscribed,
        listener,
        types: PhantomData,
    };
    cache.l2 = Some(Arc::new(tier));
    Ok(cache)
}

/// Milliseconds for `PX`, at least 1.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// `text` with Redis glob characters escaped, for `SCAN MATCH`.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl<K, V> RedisTier<K, V>
where
    K: Display + Send + Sync,
    V: Serialize + DeserializeOwned + Send + Sync,
{
    /// `base` followed by `key`, or `None` (counted) when longer than `max_key_bytes`.
    fn render(&self, base: &str, key: &K) -> Option<String> {
        let mut out = String::with_capacity(base.len() + 24);
        out.push_str(base);
        // Writing to a String cannot fail.
        let _ = write!(out, "{key}");
        if out.len() > self.max_key_bytes {
            self.metrics.key_too_long.increment(1);
            return None;
        }
        Some(out)
    }

    /// One connection of the pool, round robin.
    fn connection(&self) -> ConnectionManager {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % (self.others.len() + 1);
        match i.checked_sub(1) {
            Some(other) => self.others.get(other).unwrap_or(&self.primary).clone(),
            None => self.primary.clone(),
        }
    }

    /// Runs one command (or pipeline) within the timeout, through the circuit; `None` on any
    /// failure, counted and logged (rate-limited).
    async fn run<T, F, Fut>(&self, op: &'static str, duration: &Histogram, command: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if !self.circuit.allow() {
            self.metrics.circuit_open.increment(1);
            return None;
        }
        let started = Instant::now();
        let result = tokio::time::timeout(self.timeout, command(self.connection())).await;
        duration.record(started.elapsed());
        match result {
            Ok(Ok(value)) => {
                if self.circuit.success() == Change::Closed {
                    tracing::info!(
                        cache = %self.name,
                        url = %self.url,
                        "cache second tier (Redis) reachable again; using it"
                    );
                }
                Some(value)
            }
            Ok(Err(error)) => {
                self.metrics.error.increment(1);
                let message = self.url.mask_in(&error.to_string());
                self.failed(op, &message);
                None
            }
            Err(_) => {
                self.metrics.timeout.increment(1);
                let message = format!(
                    "no answer within {}",
                    humantime::format_duration(self.timeout)
                );
                self.failed(op, &message);
                None
            }
        }
    }

    /// Counts a failure in the circuit and logs it, at most once per [`LOG_INTERVAL`].
    fn failed(&self, op: &'static str, error: &str) {
        if self.circuit.failure() == Change::Opened {
            tracing::warn!(
                cache = %self.name,
                url = %self.url,
                op,
                error,
                "cache second tier (Redis) keeps failing; bypassing it for a while, then \
                 probing (lookups are answered from memory and the loader meanwhile)"
            );
            return;
        }
        if let Some(suppressed) = self.log.permit() {
            tracing::warn!(
                cache = %self.name,
                url = %self.url,
                op,
                error,
                suppressed,
                "cache second tier (Redis) command failed; answering from memory and the \
                 loader (counted in cache_l2_errors_total)"
            );
        }
    }

    /// The answer an entry read from Redis holds: `None` when there is no usable entry
    /// (absent, too large, another schema, undecodable: counted).
    fn decode(&self, bytes: &[u8]) -> Option<Option<V>> {
        if bytes.is_empty() {
            return None;
        }
        if bytes.len() > self.max_value_bytes {
            self.metrics.too_large.increment(1);
            return None;
        }
        match codec::decode::<V>(self.schema, bytes) {
            Ok(answer) => Some(answer),
            Err(codec::Unusable::Schema) => {
                self.metrics.schema.increment(1);
                None
            }
            Err(codec::Unusable::Decode) => {
                self.metrics.decode.increment(1);
                None
            }
        }
    }

    /// `GETRANGE key 0 max`: at most one byte more than an entry may hold, so a huge value
    /// is never read whole.
    fn read_cmd(&self, key: &str) -> redis::Cmd {
        // Sized up front: growing the buffer arg by arg cost more than the rest of the
        // command's encoding (callgrind, benches/benches/cache_l2.rs).
        let mut cmd =
            redis::Cmd::with_capacity(4, "GETRANGE0".len() + key.len() + self.read_end.len());
        cmd.arg("GETRANGE")
            .arg(key)
            .arg("0")
            .arg(self.read_end.as_str());
        cmd
    }

    async fn lookup_impl(&self, key: &K) -> Lookup<V> {
        let Some(value_key) = self.render(&self.value_base, key) else {
            return Lookup::Unavailable;
        };
        let read = self.read_cmd(&value_key);
        let Some(bytes) = self
            .run("get", &self.metrics.get, |mut c| async move {
                read.query_async::<Vec<u8>>(&mut c).await
            })
            .await
        else {
            return Lookup::Unavailable;
        };
        if let Some(answer) = self.decode(&bytes) {
            self.metrics.hit.increment(1);
            return Lookup::Hit(answer);
        }
        self.metrics.miss.increment(1);
        Lookup::Miss(None)
    }

    /// Cross-replica coalescing after a miss: takes the key's lease, or waits (bounded by
    /// `lease`) for the holder's value. Counts no request: the lookup before it did.
    async fn claim_impl(&self, key: &K) -> Lookup<V> {
        if !self.coalesce {
            return Lookup::Miss(None);
        }
        let (Some(value_key), Some(lease_key)) = (
            self.render(&self.value_base, key),
            self.render(&self.lease_base, key),
        ) else {
            return Lookup::Miss(None);
        };
        let mut take = redis::cmd("SET");
        take.arg(&lease_key)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis(self.lease));
        let Some(taken) = self
            .run("lease", &self.metrics.lease, |mut c| async move {
                take.query_async::<Value>(&mut c).await
            })
            .await
        else {
            return Lookup::Unavailable;
        };
        if !matches!(taken, Value::Nil) {
            return Lookup::Miss(Some(Lease));
        }
        // Another replica is loading it: wait for its value.
        let started = Instant::now();
        let mut pause = FIRST_POLL;
        loop {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LONGEST_POLL);
            let mut poll = redis::pipe();
            poll.add_command(self.read_cmd(&value_key))
                .cmd("EXISTS")
                .arg(&lease_key);
            let Some((bytes, leased)) = self
                .run("wait", &self.metrics.get, |mut c| async move {
                    poll.query_async::<(Vec<u8>, bool)>(&mut c).await
                })
                .await
            else {
                return Lookup::Unavailable;
            };
            if let Some(answer) = self.decode(&bytes) {
                self.metrics.wait.record(started.elapsed());
                return Lookup::Hit(answer);
            }
            if !leased || started.elapsed() >= self.lease {
                // The holder gave up, stored nothing, or is slower than its lease: load here.
                self.metrics.wait.record(started.elapsed());
                return Lookup::Miss(None);
            }
        }
    }

    async fn store_impl(&self, key: &K, answer: Option<&V>, lease: Option<Lease>) {
        let Some(value_key) = self.render(&self.value_base, key) else {
            return;
        };
        let mut pipe = redis::pipe();
        let ttl = match answer {
            Some(_) => Some(self.ttl),
            None => self.negative_ttl,
        };
        if let Some(ttl) = ttl {
            match codec::encode(self.schema, answer) {
                Ok(bytes) if bytes.len() <= self.max_value_bytes => {
                    let ttl = self.jitter.apply(ttl);
                    pipe.cmd("SET")
                        .arg(&value_key)
                        .arg(bytes)
                        .arg("PX")
                        .arg(millis(ttl))
                        .ignore();
                }
                Ok(_) => {
                    // Not written; an older value must not outlive this newer answer.
                    self.metrics.too_large.increment(1);
                    pipe.cmd("DEL").arg(&value_key).ignore();
                }
                Err(error) => {
                    self.metrics.decode.increment(1);
                    if let Some(suppressed) = self.log.permit() {
                        tracing::warn!(
                            cache = %self.name,
                            error,
                            suppressed,
                            "cache value cannot be encoded for the second tier; not written \
                             (check its Serialize impl)"
                        );
                    }
                    pipe.cmd("DEL").arg(&value_key).ignore();
                }
            }
        }
        if lease.is_some()
            && let Some(lease_key) = self.render(&self.lease_base, key)
        {
            pipe.cmd("DEL").arg(lease_key).ignore();
        }
        if pipe.is_empty() {
            return;
        }
        self.run("set", &self.metrics.set, |mut c| async move {
            pipe.query_async::<()>(&mut c).await
        })
        .await;
    }

    async fn release_impl(&self, key: &K) {
        let Some(lease_key) = self.render(&self.lease_base, key) else {
            return;
        };
        let mut del = redis::cmd("DEL");
        del.arg(lease_key);
        self.run("del", &self.metrics.del, |mut c| async move {
            del.query_async::<()>(&mut c).await
        })
        .await;
    }

    async fn invalidate_impl(&self, key: &K) {
        let Some(value_key) = self.render(&self.value_base, key) else {
            return;
        };
        let mut message = Vec::with_capacity(ONE.len() + value_key.len());
        message.extend_from_slice(ONE);
        message.extend_from_slice(&value_key.as_bytes()[self.value_base.len()..]);
        let mut pipe = redis::pipe();
        pipe.cmd("DEL")
            .arg(&value_key)
            .ignore()
            .cmd("PUBLISH")
            .arg(&self.channel)
            .arg(message)
            .ignore();
        self.run("del", &self.metrics.del, |mut c| async move {
            pipe.query_async::<()>(&mut c).await
        })
        .await;
    }

    async fn invalidate_all_impl(&self) {
        let pattern = format!("{}*", glob_escape(&self.value_base));
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT);
            let Some((next, keys)) = self
                .run("scan", &self.metrics.scan, |mut c| async move {
                    scan.query_async::<(u64, Vec<Vec<u8>>)>(&mut c).await
                })
                .await
            else {
                break;
            };
            if !keys.is_empty() {
                let mut unlink = redis::cmd("UNLINK");
                unlink.arg(keys);
                self.run("del", &self.metrics.del, |mut c| async move {
                    unlink.query_async::<()>(&mut c).await
                })
                .await;
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(&self.channel).arg(ALL);
        self.run("del", &self.metrics.del, |mut c| async move {
            publish.query_async::<()>(&mut c).await
        })
        .await;
    }
}

impl<K, V> SecondTier<K, V> for RedisTier<K, V>
where
    K: Display + Send + Sync,
    V: Serialize + DeserializeOwned + Send + Sync,
{
    fn lookup<'a>(&'a self, key: &'a K) -> BoxFuture<'a, Lookup<V>> {
        Box::pin(self.lookup_impl(key))
    }

    fn claim<'a>(&'a self, key: &'a K) -> BoxFuture<'a, Lookup<V>> {
        Box::pin(self.claim_impl(key))
    }

    fn store<'a>(
        &'a self,
        key: &'a K,
        value: Option<&'a V>,
        lease: Option<Lease>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(self.store_impl(key, value, lease))
    }

    fn release<'a>(&'a self, key: &'a K, lease: Lease) -> BoxFuture<'a, ()> {
        let _ = lease;
        Box::pin(self.release_impl(key))
    }

    fn invalidate<'a>(&'a self, key: &'a K) -> BoxFuture<'a, ()> {
        Box::pin(self.invalidate_impl(key))
    }

    fn invalidate_all(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.invalidate_all_impl())
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let ping = redis::cmd("PING");
            match self
                .run("ping", &self.metrics.get, |mut c| async move {
                    ping.query_async::<()>(&mut c).await
                })
                .await
            {
                Some(()) => Ok(()),
                None => Err(format!(
                    "Redis at {} did not answer within {} (or keeps failing: see \
                     cache_l2_errors_total)",
                    self.url,
                    humantime::format_duration(self.timeout)
                )),
            }
        })
    }

    fn status(&self) -> L2Status {
        L2Status {
            reachable: self.circuit.is_closed(),
            subscribed: self.subscribed.load(Ordering::Relaxed),
        }
    }
}
