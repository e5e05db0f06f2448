//! boost-cache against raw `moka::future::Cache`, in the same run.
//!
//! - `cache_get_hit`: `get` of a present key (1,024 hot keys, cycled).
//! - `cache_get_or_load_hit`: moka `try_get_with` vs boost `get_or_load`, key present.
//! - `cache_zipf_2_threads`: a Zipf(s = 1.0) trace over 100k keys into a 10k-entry cache,
//!   2 tasks on a 2-worker runtime, each miss loading the key; time per batch of 10k lookups.
//!   Before it, each cache replays the same 2M-lookup trace once and the hit ratios (over the
//!   second, warmed-up half) are printed.
//!
//! Raw moka is called the cheapest equivalent way (`get`, `try_get_with_by_ref`).
//! "boost" records into a no-op recorder (none installed); "boost+prom" records into a real
//! Prometheus recorder, which is what a service pays.
//!
//! Run: `cargo bench -p boost-benches --bench cache -- --warm-up-time 1 --measurement-time 3`

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use boost_benches::report_ratio;
use boost_cache::{Cache, CacheSettings};
use criterion::Criterion;
use metrics_exporter_prometheus::PrometheusBuilder;
use rand::{Rng, SeedableRng, rngs::SmallRng};
use tokio::runtime::Runtime;

const HOT_KEYS: u64 = 1024;
const ZIPF_KEYS: usize = 100_000;
const ZIPF_CAPACITY: u64 = 10_000;
const TRACE_LEN: usize = 2_000_000;
const BATCH: usize = 10_000;

type Raw = moka::future::Cache<u64, u64>;
type Ours = Cache<u64, u64>;

fn raw(capacity: u64) -> Raw {
    moka::future::Cache::new(capacity)
}

fn ours(name: &str, capacity: u64) -> Ours {
    let mut settings = CacheSettings::new(name);
    settings.max_capacity = capacity;
    Cache::new(settings).unwrap()
}

/// A cache whose metrics go to a real Prometheus recorder (handles taken at build time).
fn ours_with_prometheus(name: &str, capacity: u64) -> Ours {
    let recorder = PrometheusBuilder::new().build_recorder();
    let cache = metrics::with_local_recorder(&recorder, || ours(name, capacity));
    // The handles keep their own storage; the recorder may go.
    cache
}

fn runtime(workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

fn bench_get_hit(c: &mut Criterion, rt: &Runtime) {
    let raw = raw(HOT_KEYS * 4);
    let ours = ours("bench_get", HOT_KEYS * 4);
    let prom = ours_with_prometheus("bench_get_prom", HOT_KEYS * 4);
    rt.block_on(async {
        for k in 0..HOT_KEYS {
            raw.insert(k, k).await;
            ours.insert(k, k).await;
            prom.insert(k, k).await;
        }
    });
    let mut group = c.benchmark_group("cache_get_hit");
    let next = AtomicU64::new(0);
    let key = || next.fetch_add(1, Ordering::Relaxed) % HOT_KEYS;
    group.bench_function("moka", |b| {
        b.to_async(rt).iter(|| async { raw.get(&key()).await })
    });
    group.bench_function("boost", |b| {
        b.to_async(rt).iter(|| async { ours.get(&key()).await })
    });
    group.bench_function("boost+prom", |b| {
        b.to_async(rt).iter(|| async { prom.get(&key()).await })
    });
    group.finish();
}

fn bench_get_or_load_hit(c: &mut Criterion, rt: &Runtime) {
    let raw = raw(HOT_KEYS * 4);
    let ours = ours("bench_load", HOT_KEYS * 4);
    let prom = ours_with_prometheus("bench_load_prom", HOT_KEYS * 4);
    rt.block_on(async {
        for k in 0..HOT_KEYS {
            raw.insert(k, k).await;
            ours.insert(k, k).await;
            prom.insert(k, k).await;
        }
    });
    let mut group = c.benchmark_group("cache_get_or_load_hit");
    let next = AtomicU64::new(0);
    let key = || next.fetch_add(1, Ordering::Relaxed) % HOT_KEYS;
    group.bench_function("moka", |b| {
        b.to_async(rt).iter(|| async {
            let k = key();
            raw.try_get_with_by_ref(&k, async move { Ok::<_, Infallible>(k) })
                .await
        })
    });
    group.bench_function("boost", |b| {
        b.to_async(rt).iter(|| async {
            let k = key();
            ours.get_or_load(k, move || async move { Ok::<_, Infallible>(Some(k)) })
                .await
        })
    });
    group.bench_function("boost+prom", |b| {
        b.to_async(rt).iter(|| async {
            let k = key();
            prom.get_or_load(k, move || async move { Ok::<_, Infallible>(Some(k)) })
                .await
        })
    });
    group.finish();
}

/// Whether the run was not filtered to some benches (`cargo bench ... -- <filter>`).
fn c_filter_allows_all() -> bool {
    std::env::args()
        .skip(1)
        .all(|arg| arg.starts_with('-') || arg.parse::<f64>().is_ok())
}

/// `len` keys drawn from Zipf(s = 1.0) over `0..ZIPF_KEYS` (key 0 the most popular).
fn zipf_trace(len: usize, seed: u64) -> Vec<u64> {
    let mut cumulative = Vec::with_capacity(ZIPF_KEYS);
    let mut total = 0.0;
    for rank in 1..=ZIPF_KEYS {
        total += 1.0 / rank as f64;
        cumulative.push(total);
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..len)
        .map(|_| {
            let u = rng.random::<f64>() * total;
            cumulative.partition_point(|&c| c < u).min(ZIPF_KEYS - 1) as u64
        })
        .collect()
}

/// Anything that can look a key up, loading it on a miss.
trait ReadThrough: Clone + Send + Sync + 'static {
    fn lookup(&self, key: u64, loads: &Arc<AtomicUsize>) -> impl Future<Output = u64> + Send;
}

impl ReadThrough for Raw {
    async fn lookup(&self, key: u64, loads: &Arc<AtomicUsize>) -> u64 {
        let loads = Arc::clone(loads);
        self.try_get_with_by_ref(&key, async move {
            loads.fetch_add(1, Ordering::Relaxed);
            Ok::<_, Infallible>(key)
        })
        .await
        .unwrap()
    }
}

impl ReadThrough for Ours {
    async fn lookup(&self, key: u64, loads: &Arc<AtomicUsize>) -> u64 {
        let loads = Arc::clone(loads);
        self.get_or_load(key, move || async move {
            loads.fetch_add(1, Ordering::Relaxed);
            Ok::<_, Infallible>(Some(key))
        })
        .await
        .unwrap()
        .unwrap_or_default()
    }
}

/// Replays `trace[range]` on 2 tasks (interleaved halves); returns how many loads ran.
async fn replay<C: ReadThrough>(
    cache: &C,
    trace: &Arc<Vec<u64>>,
    start: usize,
    len: usize,
) -> usize {
    let loads = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..2)
        .map(|lane| {
            let (cache, trace, loads) = (cache.clone(), Arc::clone(trace), Arc::clone(&loads));
            tokio::spawn(async move {
                let mut i = start + lane;
                while i < start + len {
                    black_box(cache.lookup(trace[i % trace.len()], &loads).await);
                    i += 2;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    loads.load(Ordering::Relaxed)
}

/// Hit ratio over the second half of the trace, after the first half warmed the cache.
fn hit_ratio<C: ReadThrough>(rt: &Runtime, cache: &C, trace: &Arc<Vec<u64>>) -> f64 {
    rt.block_on(async {
        let half = trace.len() / 2;
        replay(cache, trace, 0, half).await;
        let loads = replay(cache, trace, half, half).await;
        1.0 - loads as f64 / half as f64
    })
}

fn bench_zipf(c: &mut Criterion, rt: &Runtime) -> (f64, f64) {
    let trace = Arc::new(zipf_trace(TRACE_LEN, 7));
    let raw_ratio = hit_ratio(rt, &raw(ZIPF_CAPACITY), &trace);
    let ours_ratio = hit_ratio(rt, &ours("zipf_ratio", ZIPF_CAPACITY), &trace);

    let raw = raw(ZIPF_CAPACITY);
    let ours = ours("zipf", ZIPF_CAPACITY);
    let prom = ours_with_prometheus("zipf_prom", ZIPF_CAPACITY);
    let mut group = c.benchmark_group("cache_zipf_2_threads");
    group.sample_size(10);
    let offset = AtomicUsize::new(0);
    let next_batch = || offset.fetch_add(BATCH, Ordering::Relaxed) % TRACE_LEN;
    group.bench_function("moka", |b| {
        b.to_async(rt)
            .iter(|| replay(&raw, &trace, next_batch(), BATCH))
    });
    group.bench_function("boost", |b| {
        b.to_async(rt)
            .iter(|| replay(&ours, &trace, next_batch(), BATCH))
    });
    group.bench_function("boost+prom", |b| {
        b.to_async(rt)
            .iter(|| replay(&prom, &trace, next_batch(), BATCH))
    });
    // For attribution: raw moka with the (empty) eviction listener boost-cache needs to count
    // evictions. With a listener moka takes a per-key lock on writes and evictions; that is
    // most of the miss-path difference.
    let listening: Raw = moka::future::Cache::builder()
        .max_capacity(ZIPF_CAPACITY)
        .eviction_listener(|_key, _value, _cause| {})
        .build();
    group.bench_function("moka+listener", |b| {
        b.to_async(rt)
            .iter(|| replay(&listening, &trace, next_batch(), BATCH))
    });
    group.finish();
    (raw_ratio, ours_ratio)
}

/// `ours / raw` as the median of per-round ratios, the two run back to back in alternating
/// order each round: robust to the load on a shared machine drifting between criterion's
/// (sequential) measurements.
fn interleaved_ratio(
    rounds: usize,
    mut raw: impl FnMut() -> Duration,
    mut ours: impl FnMut() -> Duration,
) -> (f64, f64, f64) {
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
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.25), at(0.75))
}

/// Times `ops` sequential lookups of the hot keys through `lookup`.
fn time_hits<F: Future>(rt: &Runtime, ops: u64, lookup: impl Fn(u64) -> F) -> Duration {
    rt.block_on(async {
        let started = Instant::now();
        for i in 0..ops {
            black_box(lookup(i % HOT_KEYS).await);
        }
        started.elapsed()
    })
}

fn report_interleaved(rt1: &Runtime, rt2: &Runtime) {
    let (raw_c, ours_c) = (raw(HOT_KEYS * 4), ours("ab", HOT_KEYS * 4));
    rt1.block_on(async {
        for k in 0..HOT_KEYS {
            raw_c.insert(k, k).await;
            ours_c.insert(k, k).await;
        }
    });
    let (raw_c, ours_c) = (&raw_c, &ours_c);
    let print = |name: &str, (median, p25, p75): (f64, f64, f64)| {
        eprintln!(
            "AB-RATIO {name}: boost / moka = {median:.3}x (median of interleaved rounds; \
             p25 {p25:.3}x, p75 {p75:.3}x)"
        );
    };
    const OPS: u64 = 2_000; // ~0.5 ms: most rounds fit in one scheduler slice
    print(
        "cache_get_hit",
        interleaved_ratio(
            1001,
            || time_hits(rt1, OPS, |k| async move { raw_c.get(&k).await }),
            || time_hits(rt1, OPS, |k| async move { ours_c.get(&k).await }),
        ),
    );
    print(
        "cache_get_or_load_hit",
        interleaved_ratio(
            1001,
            || {
                time_hits(rt1, OPS, |k| async move {
                    raw_c
                        .try_get_with_by_ref(&k, async move { Ok::<_, Infallible>(k) })
                        .await
                })
            },
            || {
                time_hits(rt1, OPS, |k| async move {
                    ours_c
                        .get_or_load(k, move || async move { Ok::<_, Infallible>(Some(k)) })
                        .await
                })
            },
        ),
    );
    let trace = Arc::new(zipf_trace(TRACE_LEN, 11));
    let (raw_z, ours_z) = (raw(ZIPF_CAPACITY), ours("ab_zipf", ZIPF_CAPACITY));
    let offset = AtomicUsize::new(0);
    let timed = |run: &dyn Fn(usize) -> usize| {
        let started = Instant::now();
        run(offset.fetch_add(BATCH, Ordering::Relaxed) % TRACE_LEN);
        started.elapsed()
    };
    print(
        "cache_zipf_2_threads",
        interleaved_ratio(
            101,
            || timed(&|at| rt2.block_on(replay(&raw_z, &trace, at, BATCH))),
            || timed(&|at| rt2.block_on(replay(&ours_z, &trace, at, BATCH))),
        ),
    );
}

/// Diagnostic driver for callgrind: `CACHE_DRIVE=moka|boost CACHE_LOOKUPS=n` runs `n`
/// `get_or_load` hits (`try_get_with_by_ref` for moka) over the 1,024 hot keys on a
/// current-thread runtime and exits. Per-hit instructions = the difference of two runs with
/// different `n`, divided by the difference of `n`.
fn drive(side: &str) {
    let lookups: u64 = std::env::var("CACHE_LOOKUPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (raw, ours) = (raw(HOT_KEYS * 4), ours("drive", HOT_KEYS * 4));
    rt.block_on(async {
        for k in 0..HOT_KEYS {
            raw.insert(k, k).await;
            ours.insert(k, k).await;
        }
        for i in 0..lookups {
            let k = i % HOT_KEYS;
            match side {
                "moka" => {
                    black_box(
                        raw.try_get_with_by_ref(&k, async move { Ok::<_, Infallible>(k) })
                            .await
                            .unwrap(),
                    );
                }
                "boost" => {
                    black_box(
                        ours.get_or_load(k, move || async move { Ok::<_, Infallible>(Some(k)) })
                            .await
                            .unwrap(),
                    );
                }
                other => panic!("CACHE_DRIVE={other}: expected moka or boost"),
            }
        }
    });
}

fn main() {
    if let Ok(side) = std::env::var("CACHE_DRIVE") {
        drive(&side);
        return;
    }
    if std::env::var_os("CACHE_BENCH_HIT_RATIO_ONLY").is_some() {
        let trace = Arc::new(zipf_trace(TRACE_LEN, 7));
        let rt = runtime(2);
        let moka = hit_ratio(&rt, &raw(ZIPF_CAPACITY), &trace);
        let boost = hit_ratio(&rt, &ours("zipf_ratio", ZIPF_CAPACITY), &trace);
        eprintln!(
            "HIT RATIO cache_zipf: moka {:.2}% boost {:.2}%",
            moka * 100.0,
            boost * 100.0
        );
        return;
    }
    let single = runtime(1);
    let double = runtime(2);
    if std::env::var_os("CACHE_BENCH_AB_ONLY").is_some() {
        // Quick check while tuning: only the interleaved ratios.
        report_interleaved(&single, &double);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench_get_hit(&mut c, &single);
    bench_get_or_load_hit(&mut c, &single);
    let (raw_ratio, ours_ratio) = bench_zipf(&mut c, &double);
    c.final_summary();

    for group in [
        "cache_get_hit",
        "cache_get_or_load_hit",
        "cache_zipf_2_threads",
    ] {
        report_ratio(group, "moka", "boost");
        report_ratio(group, "moka", "boost+prom");
    }
    report_ratio("cache_zipf_2_threads", "moka+listener", "boost");
    if c_filter_allows_all() {
        report_interleaved(&single, &double);
    }
    eprintln!(
        "HIT RATIO cache_zipf (s=1.0, 100k keys, 10k entries, 2 tasks, warmed): \
         moka {:.2}% boost {:.2}% (difference {:+.2} points)",
        raw_ratio * 100.0,
        ours_ratio * 100.0,
        (ours_ratio - raw_ratio) * 100.0
    );
}
