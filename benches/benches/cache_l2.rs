//! boost-cache's Redis tier against raw redis-rs, in the same run, on a `redis-server` this
//! bench starts on a loopback port (skipped, with a message, when `redis-server` is not
//! installed: `apt-get install redis-server`).
//!
//! - `cache_l2_hit`: one lookup at a time of a key present in Redis and never in memory.
//!   Raw: `GET` + `postcard::from_bytes` through a redis-rs `ConnectionManager`. Ours:
//!   `get_or_load` on a cache whose L1 stores nothing (`max_entry_share` tiny: every answer is
//!   "too large" for memory), so each call is an L1 miss, an L2 `GETRANGE`, a header check and
//!   the same postcard decode. Same client and connection setup on both sides (see
//!   [`raw_connection`]), one connection each, one timer per command each.
//! - `cache_l2_hit_64_in_flight`: the same with 64 lookups in flight at once (64 tasks on a
//!   2-worker runtime, multiplexed on the one connection, each task cloning its handle once);
//!   time per 6,400 lookups, so `raw / ours` is the throughput ratio.
//!
//! The `AB-RATIO` lines at the end (alternating rounds, median of per-round ratios) are the
//! ones judged; see [`drive`] for the callgrind / perf driver.
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
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

const KEYS: u64 = 1024;
const IN_FLIGHT: u64 = 64;
const PER_TASK: u64 = 100;
/// Both sides' per-command timeout.
const TIMEOUT: Duration = Duration::from_secs(1);

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
    l2.timeout = TIMEOUT;
    settings.l2 = Some(l2);
    Cache::two_tier(settings).unwrap()
}

/// The raw side's connection: the same redis-rs client and `ConnectionManager` setup the
/// tier makes for itself (boost-cache `l2::attach`: lazy manager, connect timeout, one
/// retry, 50 ms – 1 s backoff), so both sides pay for the same client. Each side bounds a
/// command with one timer: raw with redis-rs's response timeout (how a hand-written `GET`
/// is bounded), the tier with its own `l2.timeout` around the command (it also covers a
/// reconnect), which is why the tier turns redis-rs's off.
fn raw_connection(rt: &Runtime, url: &str) -> ConnectionManager {
    let settings = L2Settings::redis(url);
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.connect_timeout))
        .set_response_timeout(Some(TIMEOUT))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_secs(1));
    let client = redis::Client::open(url).unwrap();
    rt.block_on(async {
        let conn = client.get_connection_manager_lazy(config).unwrap();
        let () = redis::cmd("PING")
            .query_async(&mut conn.clone())
            .await
            .unwrap();
        conn
    })
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

/// A handle a bench task looks keys up through; each task clones it once.
trait Lookup: Clone + Send + Sync + 'static {
    fn lookup(&self, k: u64) -> impl Future<Output = Profile> + Send;
}

impl Lookup for ConnectionManager {
    fn lookup(&self, k: u64) -> impl Future<Output = Profile> + Send {
        raw_lookup(self, k)
    }
}

impl Lookup for Ours {
    fn lookup(&self, k: u64) -> impl Future<Output = Profile> + Send {
        ours_lookup(self, k)
    }
}

/// Time for `IN_FLIGHT` tasks doing `per_task` lookups each through `handle`.
fn in_flight<L: Lookup>(rt: &Runtime, per_task: u64, handle: &L) -> Duration {
    rt.block_on(async {
        let started = Instant::now();
        let tasks: Vec<_> = (0..IN_FLIGHT)
            .map(|t| {
                let handle = handle.clone();
                tokio::spawn(async move {
                    for i in 0..per_task {
                        black_box(handle.lookup((t * per_task + i) % KEYS).await);
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

/// Diagnostic driver for callgrind / perf: `CACHE_L2_DRIVE=raw|boost|raw64|boost64|sizes`
/// `CACHE_L2_LOOKUPS=n` runs `n` lookups of one side only (one at a time, or 64 in flight)
/// and exits. Per-lookup instructions = the difference of two runs with different `n`,
/// divided by the difference of `n`, e.g.
/// `CACHE_L2_DRIVE=boost CACHE_L2_LOOKUPS=20000 valgrind --tool=callgrind <bench binary>`.
fn drive(
    rt: &Runtime,
    side: &str,
    conn: &ConnectionManager,
    ours: &Ours,
    l1: &Ours,
    moka: &moka::future::Cache<u64, Profile>,
) {
    let lookups: u64 = std::env::var("CACHE_L2_LOOKUPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let started = Instant::now();
    match side {
        "sizes" => {
            let hit = ours.get_or_load(0, || async { Ok::<_, Infallible>(None) });
            let raw = raw_lookup(conn, 0);
            eprintln!(
                "future sizes: get_or_load {} bytes, raw GET + decode {} bytes",
                size_of_val(&hit),
                size_of_val(&raw)
            );
            return;
        }
        "l1" => rt.block_on(async {
            for i in 0..lookups {
                let k = i % KEYS;
                black_box(
                    l1.get_or_load(
                        k,
                        move || async move { Ok::<_, Infallible>(Some(profile(k))) },
                    )
                    .await
                    .unwrap(),
                );
            }
        }),
        "moka" => rt.block_on(async {
            for i in 0..lookups {
                let k = i % KEYS;
                black_box(
                    moka.try_get_with_by_ref(&k, async move { Ok::<_, Infallible>(profile(k)) })
                        .await
                        .unwrap(),
                );
            }
        }),
        "raw" => rt.block_on(async {
            for i in 0..lookups {
                black_box(raw_lookup(conn, i % KEYS).await);
            }
        }),
        "boost" => rt.block_on(async {
            for i in 0..lookups {
                black_box(ours_lookup(ours, i % KEYS).await);
            }
        }),
        "raw64" => {
            in_flight(rt, lookups / IN_FLIGHT, conn);
        }
        "boost64" => {
            in_flight(rt, lookups / IN_FLIGHT, ours);
        }
        other => {
            panic!("CACHE_L2_DRIVE={other}: expected raw, boost, raw64, boost64, l1, moka or sizes")
        }
    }
    eprintln!("DRIVE {side}: {lookups} lookups in {:?}", started.elapsed());
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
    let conn = raw_connection(&rt, &url);
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

    if let Ok(side) = std::env::var("CACHE_L2_DRIVE") {
        drive(&rt, &side, &conn, &ours, &l1, &moka);
        return;
    }

    // `CACHE_L2_AB_ONLY=1`: only the interleaved AB-RATIO lines (quick, while tuning).
    if std::env::var_os("CACHE_L2_AB_ONLY").is_none() {
        criterion_groups(&rt, &conn, &ours, &l1, &moka);
    }
    report_interleaved(&rt, &conn, &ours);
    drop(server);
}

/// The criterion groups (back-to-back medians; the AB-RATIO lines are the judged ones).
fn criterion_groups(
    rt: &Runtime,
    conn: &ConnectionManager,
    ours: &Ours,
    l1: &Ours,
    moka: &moka::future::Cache<u64, Profile>,
) {
    let mut c = Criterion::default().configure_from_args();
    let next = AtomicU64::new(0);
    let key = || next.fetch_add(1, Ordering::Relaxed) % KEYS;
    {
        let mut group = c.benchmark_group("cache_l2_hit");
        group.bench_function("redis-rs", |b| {
            b.to_async(rt).iter(|| raw_lookup(conn, key()))
        });
        group.bench_function("boost", |b| {
            b.to_async(rt).iter(|| ours_lookup(ours, key()))
        });
        group.finish();
    }
    {
        let mut group = c.benchmark_group("cache_l2_hit_64_in_flight");
        group.throughput(criterion::Throughput::Elements(IN_FLIGHT * PER_TASK));
        let raw_conn = conn.clone();
        group.bench_function("redis-rs", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| in_flight(rt, PER_TASK, &raw_conn)).sum())
        });
        let ours_cache = ours.clone();
        group.bench_function("boost", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| in_flight(rt, PER_TASK, &ours_cache))
                    .sum()
            })
        });
        group.finish();
    }
    {
        let mut group = c.benchmark_group("cache_l1_hit");
        group.bench_function("moka", |b| {
            b.to_async(rt).iter(|| async {
                let k = key();
                moka.try_get_with_by_ref(&k, async move { Ok::<_, Infallible>(profile(k)) })
                    .await
                    .unwrap()
            })
        });
        group.bench_function("boost", |b| {
            b.to_async(rt).iter(|| async {
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
}

/// The same comparisons as interleaved rounds (robust to a shared machine's drift).
fn report_interleaved(rt: &Runtime, conn: &ConnectionManager, ours: &Ours) {
    let hit = interleaved(
        41,
        || sequential(rt, |k| raw_lookup(conn, k)),
        || sequential(rt, |k| ours_lookup(ours, k)),
    );
    eprintln!("AB-RATIO cache_l2_hit: boost / redis-rs = {hit:.3}x (median of interleaved rounds)");
    let throughput = interleaved(
        41,
        || in_flight(rt, PER_TASK, conn),
        || in_flight(rt, PER_TASK, ours),
    );
    eprintln!(
        "AB-RATIO cache_l2_hit_64_in_flight: throughput boost / redis-rs = {:.3}x (time ratio \
         {throughput:.3}x, median of interleaved rounds)",
        1.0 / throughput
    );
}
