//! The `redis` backend: overrides in one Redis hash shared by every replica.
//!
//! - `<prefix>:overrides` (hash): switch name → the override as JSON.
//! - `<prefix>:changes` (pub/sub channel): a change's switch name; every
//!   replica reads the hash again when one arrives, and every
//!   `resync_interval` anyway (a message sent while it was disconnected is
//!   lost), and after every reconnect.
//! - `<prefix>:audit` (stream): every replica's audit records, in one place.
//!
//! A change is `HSET`/`HDEL` + `PUBLISH` in one `MULTI`; a revert is a small
//! script that deletes the override only if it is still the one the revert
//! was scheduled for, so of all the replicas that schedule it one reverts
//! (and audits) and the others see it done. Redis unreachable: evaluations
//! keep the last state read, changes fail (`503`) and change nothing.
//!
//! Why redis-rs: the Rust Redis client with the widest use, maintained by
//! the redis-rs org, async on Tokio with a reconnecting `ConnectionManager`
//! and pub/sub; boost-cache's second tier uses it already, so services get
//! one client.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use boost_audit::{AuditSink, ChainedRecord};
use boost_config::Endpoint;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::mpsc;

use crate::error::SwitchError;
use crate::settings::RedisSwitchesSettings;
use crate::store::Override;

/// Replaces the override of `KEYS[1]`'s field `ARGV[1]` only if it is still
/// the one made at `ARGV[2]` (its `at_ms`; empty: only if there is none),
/// with the JSON `ARGV[3]` (empty: deletes it), and announces it on
/// `KEYS[2]`. Returns 1 when it replaced. The time, not the exact JSON,
/// identifies the override, so one written by another release still matches.
const REPLACE_IF_UNCHANGED: &str = r"
local current = redis.call('HGET', KEYS[1], ARGV[1])
local unchanged
if ARGV[2] == '' then
  unchanged = not current
elseif not current then
  unchanged = false
else
  local ok, decoded = pcall(cjson.decode, current)
  unchanged = ok and type(decoded) == 'table' and tostring(decoded['at_ms']) == ARGV[2]
end
if not unchanged then return 0 end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1";

/// Audit records waiting for the stream; more are dropped (with a warning):
/// the file and the log stream have them.
const AUDIT_QUEUE: usize = 1024;

/// The connection and the key names.
#[derive(Clone)]
pub(crate) struct RedisBackend {
    pub(crate) url: Endpoint,
    client: redis::Client,
    connection: ConnectionManager,
    pub(crate) hash: String,
    pub(crate) channel: String,
    stream: String,
    timeout: Duration,
    pub(crate) resync_interval: Duration,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("url", &self.url)
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// Sets up the client (connecting lazily: an unreachable Redis must not
    /// stop the service from starting).
    pub(crate) fn new(
        settings: &RedisSwitchesSettings,
        service: &str,
    ) -> Result<Self, SwitchError> {
        let fail = |problem: String| SwitchError::Redis {
            url: settings.url.to_string(),
            problem,
        };
        let client = redis::Client::open(settings.url.expose())
            .map_err(|e| fail(settings.url.mask_in(&e.to_string())))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(None)
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1));
        let connection = client
            .get_connection_manager_lazy(config)
            .map_err(|e| fail(settings.url.mask_in(&e.to_string())))?;
        let prefix = if settings.key_prefix.is_empty() {
            format!("{service}:switches")
        } else {
            settings.key_prefix.clone()
        };
        Ok(Self {
            url: settings.url.clone(),
            client,
            connection,
            hash: format!("{prefix}:overrides"),
            channel: format!("{prefix}:changes"),
            stream: format!("{prefix}:audit"),
            timeout: settings.timeout,
            resync_interval: settings.resync_interval,
        })
    }

    async fn run<T, F, Fut>(&self, what: &str, command: F) -> Result<T, SwitchError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        self.run_timed(what, command).await.map_err(|(e, _)| e)
    }

    /// As [`run`](Self::run), also saying whether the command timed out: a
    /// late answer may mean Redis ran it. (A command that failed with a
    /// connection error is taken as not run; the follower corrects this
    /// replica if Redis did run it.)
    async fn run_timed<T, F, Fut>(&self, what: &str, command: F) -> Result<T, (SwitchError, bool)>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let (problem, timed_out) =
            match tokio::time::timeout(self.timeout, command(self.connection.clone())).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => (
                    format!("{what} failed: {}", self.url.mask_in(&e.to_string())),
                    e.is_timeout(),
                ),
                Err(_) => (
                    format!(
                        "{what} took longer than switches.redis.timeout ({:?})",
                        self.timeout
                    ),
                    true,
                ),
            };
        let error = SwitchError::Redis {
            url: self.url.to_string(),
            problem,
        };
        Err((error, timed_out))
    }

    /// Every override in Redis. Entries that do not parse are skipped (with
    /// a warning): another release may have written them.
    pub(crate) async fn load(&self) -> Result<BTreeMap<String, Override>, SwitchError> {
        let hash = self.hash.clone();
        let raw: Vec<(String, String)> = self
            .run("HGETALL", |mut c| async move {
                redis::cmd("HGETALL").arg(hash).query_async(&mut c).await
            })
            .await?;
        let mut overrides = BTreeMap::new();
        for (name, json) in raw {
            match serde_json::from_str::<Override>(&json) {
                Ok(found) => {
                    overrides.insert(name, found);
                }
                Err(e) => tracing::warn!(switch = %name, error = %e,
                    "an override in Redis does not parse; ignored"),
            }
        }
        Ok(overrides)
    }

    /// The override Redis holds for `name` now.
    pub(crate) async fn stored(&self, name: &str) -> Result<Option<Override>, SwitchError> {
        let (hash, field) = (self.hash.clone(), name.to_owned());
        let json: Option<String> = self
            .run("HGET", |mut c| async move {
                redis::cmd("HGET")
                    .arg(hash)
                    .arg(field)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(json.and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// Stores (or, with `None`, removes) the override of `name` and
    /// announces it.
    pub(crate) async fn put(
        &self,
        name: &str,
        value: Option<&Override>,
    ) -> Result<(), (SwitchError, bool)> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        match value {
            Some(value) => {
                let json = encode(value).map_err(|e| (e, false))?;
                pipe.cmd("HSET")
                    .arg(&self.hash)
                    .arg(name)
                    .arg(json)
                    .ignore();
            }
            None => {
                pipe.cmd("HDEL").arg(&self.hash).arg(name).ignore();
            }
        }
        pipe.cmd("PUBLISH").arg(&self.channel).arg(name).ignore();
        self.run_timed("storing the change", |mut c| async move {
            pipe.query_async::<()>(&mut c).await
        })
        .await
    }

    /// Removes `name`'s override if it is still `expected`; `Ok(false)` when
    /// another change (or another replica's revert) came first.
    pub(crate) async fn revert_if(
        &self,
        name: &str,
        expected: &Override,
    ) -> Result<bool, (SwitchError, bool)> {
        self.replace_if(name, Some(expected), None).await
    }

    /// Puts `replacement` (`None`: no override) in place of `name`'s override
    /// if that is still `expected` (`None`: there is none); `Ok(false)` when
    /// another change came first, which is then left alone.
    pub(crate) async fn replace_if(
        &self,
        name: &str,
        expected: Option<&Override>,
        replacement: Option<&Override>,
    ) -> Result<bool, (SwitchError, bool)> {
        let made_at = expected.map_or_else(String::new, |o| o.at_ms.to_string());
        let json = match replacement {
            Some(value) => encode(value).map_err(|e| (e, false))?,
            None => String::new(),
        };
        let mut eval = redis::cmd("EVAL");
        eval.arg(REPLACE_IF_UNCHANGED)
            .arg(2)
            .arg(&self.hash)
            .arg(&self.channel)
            .arg(name)
            .arg(made_at)
            .arg(json);
        let replaced: i64 = self
            .run_timed("replacing the override", |mut c| async move {
                eval.query_async(&mut c).await
            })
            .await?;
        Ok(replaced == 1)
    }

    /// A connection subscribed to the change channel.
    pub(crate) async fn subscribe(&self) -> Result<redis::aio::PubSub, SwitchError> {
        let fail = |problem: String| SwitchError::Redis {
            url: self.url.to_string(),
            problem,
        };
        let mut pubsub = tokio::time::timeout(self.timeout, self.client.get_async_pubsub())
            .await
            .map_err(|_| fail("connecting for pub/sub timed out".to_owned()))?
            .map_err(|e| fail(self.url.mask_in(&e.to_string())))?;
        tokio::time::timeout(self.timeout, pubsub.subscribe(&self.channel))
            .await
            .map_err(|_| fail("SUBSCRIBE timed out".to_owned()))?
            .map_err(|e| fail(self.url.mask_in(&e.to_string())))?;
        Ok(pubsub)
    }

    /// The sink that appends audit records to the stream (at most `max_len`
    /// kept), from a task of its own: recording never waits for Redis.
    pub(crate) fn audit_sink(&self, max_len: u64) -> Arc<dyn AuditSink> {
        let (sender, mut receiver) = mpsc::channel::<String>(AUDIT_QUEUE);
        let backend = self.clone();
        tokio::spawn(async move {
            while let Some(json) = receiver.recv().await {
                let stream = backend.stream.clone();
                let added = backend
                    .run("XADD to the audit stream", |mut c| async move {
                        redis::cmd("XADD")
                            .arg(stream)
                            .arg("MAXLEN")
                            .arg("~")
                            .arg(max_len)
                            .arg("*")
                            .arg("record")
                            .arg(json)
                            .query_async::<String>(&mut c)
                            .await
                    })
                    .await;
                if let Err(e) = added {
                    tracing::warn!(error = %e,
                        "an audit record did not reach the Redis stream (it is in the audit file \
                         and the log stream)");
                }
            }
        });
        Arc::new(StreamSink { sender })
    }
}

fn encode(value: &Override) -> Result<String, SwitchError> {
    serde_json::to_string(value).map_err(|e| SwitchError::Redis {
        url: String::new(),
        problem: format!("the override could not be encoded: {e}"),
    })
}

struct StreamSink {
    sender: mpsc::Sender<String>,
}

impl AuditSink for StreamSink {
    fn publish(&self, record: &ChainedRecord) {
        let Ok(json) = serde_json::to_string(record) else {
            return;
        };
        if self.sender.try_send(json).is_err() {
            tracing::warn!(
                "the Redis audit stream is behind; a record was not sent to it (it is in the \
                 audit file and the log stream)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Value;
    use boost_test_redis::RedisServer;

    fn made_at(at_ms: u64) -> Override {
        Override {
            value: Value::Enabled(false),
            actor: "jo".to_owned(),
            reason: "partner down".to_owned(),
            at_ms,
            revert_at_ms: None,
        }
    }

    #[tokio::test]
    #[ignore = "needs redis-server"]
    async fn a_replacement_happens_only_while_the_override_is_the_expected_one()
    -> Result<(), Box<dyn std::error::Error>> {
        let server = RedisServer::start();
        let settings = RedisSwitchesSettings {
            url: Endpoint::new(server.url()),
            ..RedisSwitchesSettings::default()
        };
        let redis = RedisBackend::new(&settings, "demo").map_err(|e| e.to_string())?;
        let (ours, theirs) = (made_at(1_000), made_at(2_000));
        let put = |value: Option<Override>| {
            let redis = redis.clone();
            async move { redis.put("hertz", value.as_ref()).await.map_err(|(e, _)| e) }
        };
        let swap = |expected: Option<Override>, replacement: Option<Override>| {
            let redis = redis.clone();
            async move {
                redis
                    .replace_if("hertz", expected.as_ref(), replacement.as_ref())
                    .await
                    .map_err(|(e, _)| e)
            }
        };
        let stored = || {
            let redis = redis.clone();
            async move { redis.stored("hertz").await }
        };

        // Ours is in place: undone back to no override.
        put(Some(ours.clone())).await?;
        assert!(swap(Some(ours.clone()), None).await?);
        assert_eq!(stored().await?, None);

        // Another replica wrote after us: our undo leaves theirs alone.
        put(Some(theirs.clone())).await?;
        assert!(!swap(Some(ours.clone()), None).await?);
        assert_eq!(stored().await?, Some(theirs.clone()));

        // Undoing a removal puts the old override back, only while none is there.
        put(None).await?;
        assert!(swap(None, Some(ours.clone())).await?);
        assert_eq!(stored().await?, Some(ours.clone()));
        assert!(!swap(None, Some(theirs)).await?);
        assert_eq!(stored().await?, Some(ours));
        Ok(())
    }
}
