//! boost-cache's Redis tier against raw redis-rs, in the same run, on a `redis-server` this
//! bench starts on a loopback port (skipped, with a message, when `redis-server` is not
//! installed: `apt-get install redis-server`).
//!
//! - `cache_l2_hit`: one lookup at a time of a key present in Redis and never in memory.
//!   Raw: `GET` + `postcard::from_bytes` through a redis-rs `ConnectionManager`. Ours:
//!   `get_or_load` on a cache whose L1 stores nothing (`max_entry_share` tiny: every answer is
//!   "too large" for memory), so each call is an L1 miss, an L2 `GETRANGE`, a header check and
//!   the same postcard decode. Same client library, one connection each.
//! - `cache_l2_hit_64_in_flight`: the same with 64 lookups in flight at once (64 tasks on a
//!   2-worker runtime, multiplexed on the one connection); time per 6,400 lookups, so
//!   `raw / ours` is the throughput ratio.
//! - `cache_l1_hit`: for reference, `get_or_load` hits in memory on a two-tier cache against
//!   raw moka `try_get_with_by_ref` (the L1 path is the one of `benches/cache.rs`).
//!
//! Run: `cargo bench -p boost-benches --bench cache_l2 -- --warm-up-time 1 --measurement-time 3`

use std::convert::Infallible;
use std::hint::black_box;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use boost_benches::report_ratio;
use boost_cache::{ByteSize, Cache, CacheSettings, L2Settings};
use criterion::Criterion;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

const KEYS: u64 = 1024;
const IN_FLIGHT: u64 = 64;
const PER_TASK: u64 = 100;

/// A typical small cached record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    name: String,
    language: String,
    followers: u64,
    tags: Vec<String>,
}

impl ByteSize for Profile {
    fn byte_size(&self) -> usize {
        size_of::<Self>()
            + self.name.len()
            + self.language.len()
            + self
                .tags
                .iter()
                .map(|t| size_of::<String>() + t.len())
                .sum::<usize>()
    }
}

fn profile(k: u64) -> Profile {
    Profile {
        name: format!("user-{k}"),
        language: "en".to_owned(),
        followers: k * 7,
        tags: vec!["rust".to_owned(), "cache".to_owned(), format!("t{k}")],
    }
}

/// `redis-server` on a free loopback port; killed on drop.
struct Server(Child, u16);

impl Server {
    fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = Self(child, port);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.1)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

type Ours = Cache<u64, Profile>;

/// A two-tier cache whose memory keeps nothing: every lookup goes to Redis.
fn l2_only(url: &str) -> Ours {
    let mut settings = CacheSettings::new("bench_l2");
    settings.ttl = Some(Duration::from_secs(3600));
    settings.max_entry_share = 1e-9;
    let mut l2 = L2Settings::redis(url);
    l2.pool_size = 1;
    l2.timeout = Duration::from_secs(1);
    settings.l2 = Some(l2);
    Cache::two_tier(settings).unwrap()
}

async fn raw_lookup(conn: &ConnectionManager, k: u64) -> Profile {
    let mut conn = conn.clone();
    let bytes: Vec<u8> = redis::cmd("GET")
        .arg(format!("raw:{k}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    postcard::from_bytes(&bytes).unwrap()
}

async fn ours_lookup(cache: &Ours, k: u64) -> Profile {
    cache
        .get_or_load(k, || async { Ok::<_, Infallible>(None) })
        .await
        .unwrap()
        .unwrap()
}

/// Time for `IN_FLIGHT` tasks doing `per_task` lookups each.
fn in_flight<F, Fut>(rt: &Runtime, per_task: u64, lookup: F) -> Duration
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Profile> + Send,
{
    rt.block_on(async {
        let started = Instant::now();
        let tasks: Vec<_> = (0..IN_FLIGHT)
            .map(|t| {
                let lookup = lookup.clone();
                tokio::spawn(async move {
                    for i in 0..per_task {
                        black_box(lookup((t * per_task + i) % KEYS).await);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        started.elapsed()
    })
}

/// Time for 200 lookups, one at a time.
fn sequential<F, Fut>(rt: &Runtime, lookup: F) -> Duration
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Profile>,
{
    rt.block_on(async {
        let started = Instant::now();
        for i in 0..200 {
            black_box(lookup(i % KEYS).await);
        }
        started.elapsed()
    })
}

/// `ours / raw` as the median of per-round ratios, run back to back in alternating order.
fn interleaved(
    rounds: usize,
    mut raw: impl FnMut() -> Duration,
    mut ours: impl FnMut() -> Duration,
) -> f64 {
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|round| {
            let (r, o) = if round % 2 == 0 {
                let r = raw();
                (r, ours())
            } else {
                let o = ours();
                (raw(), o)
            };
            o.as_secs_f64() / r.as_secs_f64()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ratios.len() / 2]
}

fn main() {
    if std::process::Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!(
            "SKIPPED cache_l2: redis-server is not installed (apt-get install redis-server); \
             this bench needs a real Redis"
        );
        return;
    }
    let Some(server) = Server::start() else {
        eprintln!("SKIPPED cache_l2: redis-server did not start on a loopback port");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = server.url();
    let client = redis::Client::open(url.as_str()).unwrap();
    let conn = rt.block_on(client.get_connection_manager()).unwrap();
    let ours = rt.block_on(async {
        let ours = l2_only(&url);
        let mut c = conn.clone();
        for k in 0..KEYS {
            let p = profile(k);
            let _: () = redis::cmd("SET")
                .arg(format!("raw:{k}"))
                .arg(postcard::to_allocvec(&p).unwrap())
                .query_async(&mut c)
                .await
                .unwrap();
            ours.insert(k, p).await; // written through to Redis; too large for memory
        }
        assert_eq!(ours_lookup(&ours, 7).await, profile(7));
        ours
    });
    let l1 = rt.block_on(async {
        let mut settings = CacheSettings::new("bench_l1");
        settings.ttl = Some(Duration::from_secs(3600));
        settings.l2 = Some(L2Settings::redis(url.as_str()));
        let l1: Ours = Cache::two_tier(settings).unwrap();
        for k in 0..KEYS {
            l1.insert(k, profile(k)).await;
        }
        l1
    });
    let moka: moka::future::Cache<u64, Profile> = moka::future::Cache::new(KEYS * 4);
    rt.block_on(async {
        for k in 0..KEYS {
            moka.insert(k, profile(k)).await;
        }
    });

    let mut c = Criterion::default().configure_from_args();
    let next = AtomicU64::new(0);
    let key = || next.fetch_add(1, Ordering::Relaxed) % KEYS;
    {
        let mut group = c.benchmark_group("cache_l2_hit");
        group.bench_function("redis-rs", |b| {
            b.to_async(&rt).iter(|| raw_lookup(&conn, key()))
        });
        group.bench_function("boost", |b| {
            b.to_async(&rt).iter(|| ours_lookup(&ours, key()))
        });
        group.finish();
    }
    {
        let mut group = c.benchmark_group("cache_l2_hit_64_in_flight");
        group.throughput(criterion::Throughput::Elements(IN_FLIGHT * PER_TASK));
        let raw_conn = conn.clone();
        group.bench_function("redis-rs", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let conn = raw_conn.clone();
                        in_flight(&rt, PER_TASK, move |k| {
                            let conn = conn.clone();
                            async move { raw_lookup(&conn, k).await }
                        })
                    })
                    .sum()
            })
        });
        let ours_cache = ours.clone();
        group.bench_function("boost", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let cache = ours_cache.clone();
                        in_flight(&rt, PER_TASK, move |k| {
                            let cache = cache.clone();
                            async move { ours_lookup(&cache, k).await }
                        })
                    })
                    .sum()
            })
        });
        group.finish();
    }
    {
        let mut group = c.benchmark_group("cache_l1_hit");
        group.bench_function("moka", |b| {
            b.to_async(&rt).iter(|| async {
                let k = key();
                moka.try_get_with_by_ref(&k, async move { Ok::<_, Infallible>(profile(k)) })
                    .await
                    .unwrap()
            })
        });
        group.bench_function("boost", |b| {
            b.to_async(&rt).iter(|| async {
                let k = key();
                l1.get_or_load(
                    k,
                    move || async move { Ok::<_, Infallible>(Some(profile(k))) },
                )
                .await
                .unwrap()
            })
        });
        group.finish();
    }
    c.final_summary();
    report_ratio("cache_l2_hit", "redis-rs", "boost");
    report_ratio("cache_l2_hit_64_in_flight", "redis-rs", "boost");
    report_ratio("cache_l1_hit", "moka", "boost");

    // The same comparisons as interleaved rounds (robust to a shared machine's drift).
    let hit = interleaved(
        41,
        || sequential(&rt, |k| raw_lookup(&conn, k)),
        || sequential(&rt, |k| ours_lookup(&ours, k)),
    );
    eprintln!("AB-RATIO cache_l2_hit: boost / redis-rs = {hit:.3}x (median of interleaved rounds)");
    let throughput = interleaved(
        41,
        || {
            let conn = conn.clone();
            in_flight(&rt, PER_TASK, move |k| {
                let conn = conn.clone();
                async move { raw_lookup(&conn, k).await }
            })
        },
        || {
            let cache = ours.clone();
            in_flight(&rt, PER_TASK, move |k| {
                let cache = cache.clone();
                async move { ours_lookup(&cache, k).await }
            })
        },
    );
    eprintln!(
        "AB-RATIO cache_l2_hit_64_in_flight: throughput boost / redis-rs = {:.3}x (time ratio \
         {throughput:.3}x, median of interleaved rounds)",
        1.0 / throughput
    );
    drop(server);
}
