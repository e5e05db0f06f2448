//! A trivial query through boost-db against raw sqlx, in the same run, on a PostgreSQL this
//! bench starts on a loopback port (`boost-test-postgres`; skipped, with a message, when the
//! PostgreSQL programs are not installed: `apt-get install postgresql`). The boost-metrics
//! recorder is installed (metrics really recorded); no tracing subscriber (spans disabled).
//! Every query is `SELECT 1` through `sqlx::query_scalar(..).fetch_one`, one at a time on a
//! current-thread runtime (with a multi-thread one, the wake-up of the waiting thread by a
//! worker dominated and swung 2× between runs), prepared statements cached on both sides.
//!
//! - `db_held`: a query on a connection already held — the wrapper's own cost. `raw`: a
//!   `PoolConnection` of the kit's pool; `kit`: a [`boost_db::Conn`] (span, metric, operation
//!   and table parse) outside any call; `kit_in_call`: the same inside a call's deadline
//!   (`boost_rpc::deadline::scope`), adding the client-side guard timer; `raw_timeout`: the
//!   raw query under `tokio::time::timeout_at` per query, what a team's own guard costs.
//!   Target ≤ 1.05×.
//! - `db_acquire`: take a connection, run the query, give it back. `kit`: `Database::acquire`
//!   (its `SET statement_timeout`, which also tests the connection) + the query. Against:
//!   `raw_default` — a pool with sqlx's default options (it pings a connection before
//!   handing it out); `raw_same_job` — the kit's pool, `SET statement_timeout` + the query
//!   by hand; `raw_bare` — the kit's pool, the query alone (no liveness test, no timeout).
//!
//! The `AB-RATIO` lines (alternating rounds, median of per-round ratios, and the ratio of the
//! fastest rounds) are steadier than the criterion medians on a loaded machine.
//!
//! Run: `cargo bench -p boost-benches --bench db -- --warm-up-time 1 --measurement-time 3`

use std::time::{Duration, Instant};

use boost_benches::{paired_ratio, report_ratio};
use boost_config::ServiceIdentity;
use boost_db::{Database, DatabaseSettings};
use boost_metrics::MetricsSettings;
use boost_test_postgres::PostgresServer;
use criterion::Criterion;
use sqlx::postgres::PgPoolOptions;
use tokio::runtime::Runtime;

const QUERY: &str = "SELECT 1";
/// Queries per round of the paired ratios.
const PER_ROUND: u32 = 2_000;
const ROUNDS: usize = 21;

fn main() {
    if !boost_test_postgres::available() {
        eprintln!(
            "db bench skipped: PostgreSQL is not installed (apt-get install postgresql, or set \
             BOOST_PG_BIN to the directory of initdb and postgres)"
        );
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    // One thread: no cross-thread wake-up per query, whose latency on a loaded
    // 2-core machine swings more than everything measured here.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Connections are dropped on this thread too: sqlx spawns their return.
    let _enter = rt.enter();
    let identity = ServiceIdentity::new("bench", "0.0.0");
    let _metrics = boost_metrics::install(&MetricsSettings::default(), &identity).expect("metrics");
    let pg = PostgresServer::start();
    let db = rt.block_on(async {
        let settings: DatabaseSettings =
            toml::from_str(&format!("url = {:?}\nmax_connections = 2", pg.url()))
                .expect("settings");
        let db = Database::new(&settings, "bench").expect("pool");
        db.ping().await.expect("postgres answers");
        db
    });
    let default_pool = rt.block_on(async {
        PgPoolOptions::new()
            .max_connections(2)
            .connect(&pg.url())
            .await
            .expect("raw pool")
    });

    if let Ok(drive) = std::env::var("DB_BENCH_DRIVE") {
        // `raw:N`, `kit:N` or `kit_in_call:N`: N queries on a held connection, then exit —
        // for callgrind (instructions per query: two N, subtract).
        let (side, n) = drive.split_once(':').unwrap_or((drive.as_str(), "1000"));
        let n: u32 = n.parse().unwrap_or(1000);
        rt.block_on(async {
            match side {
                "raw" => {
                    let mut conn = db.pool().acquire().await.expect("acquire");
                    for _ in 0..n {
                        one(&mut conn).await;
                    }
                }
                "kit" => {
                    let mut conn = db.acquire().await.expect("acquire");
                    for _ in 0..n {
                        one_kit(&mut conn).await;
                    }
                }
                _ => {
                    boost_rpc::deadline::scope(far(), async {
                        let mut conn = db.acquire().await.expect("acquire");
                        for _ in 0..n {
                            one_kit(&mut conn).await;
                        }
                    })
                    .await
                }
            }
        });
        return;
    }
    held(&mut c, &rt, &db);
    acquire(&mut c, &rt, &db, &default_pool);
    c.final_summary();
    report_ratio("db_held", "raw", "kit");
    report_ratio("db_held", "raw", "kit_in_call");
    report_ratio("db_held", "raw_timeout", "kit_in_call");
    report_ratio("db_acquire", "raw_default", "kit");
    report_ratio("db_acquire", "raw_same_job", "kit");
    report_ratio("db_acquire", "raw_bare", "kit");
    paired(&rt, &db, &default_pool);
}

async fn one(conn: &mut sqlx::PgConnection) -> i32 {
    sqlx::query_scalar(QUERY)
        .fetch_one(conn)
        .await
        .expect("query")
}

async fn one_kit(conn: &mut boost_db::Conn) -> i32 {
    sqlx::query_scalar(QUERY)
        .fetch_one(conn)
        .await
        .expect("query")
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

fn held(c: &mut Criterion, rt: &Runtime, db: &Database) {
    let mut g = c.benchmark_group("db_held");
    g.bench_function("raw", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut conn = db.pool().acquire().await.expect("acquire");
                let start = Instant::now();
                for _ in 0..iters {
                    std::hint::black_box(one(&mut conn).await);
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("kit", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut conn = db.acquire().await.expect("acquire");
                let start = Instant::now();
                for _ in 0..iters {
                    std::hint::black_box(one_kit(&mut conn).await);
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("raw_timeout", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut conn = db.pool().acquire().await.expect("acquire");
                let deadline = tokio::time::Instant::from_std(far());
                let start = Instant::now();
                for _ in 0..iters {
                    let query = tokio::time::timeout_at(deadline, one(&mut conn));
                    std::hint::black_box(query.await.expect("in time"));
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("kit_in_call", |b| {
        b.iter_custom(|iters| {
            rt.block_on(boost_rpc::deadline::scope(far(), async {
                let mut conn = db.acquire().await.expect("acquire");
                let start = Instant::now();
                for _ in 0..iters {
                    std::hint::black_box(one_kit(&mut conn).await);
                }
                start.elapsed()
            }))
        })
    });
    g.finish();
}

async fn acquire_kit(db: &Database) -> i32 {
    let mut conn = db.acquire().await.expect("acquire");
    one_kit(&mut conn).await
}

async fn acquire_raw(pool: &sqlx::PgPool) -> i32 {
    let mut conn = pool.acquire().await.expect("acquire");
    one(&mut conn).await
}

async fn acquire_same_job(pool: &sqlx::PgPool) -> i32 {
    let mut conn = pool.acquire().await.expect("acquire");
    sqlx::Executor::execute(&mut *conn, "SET statement_timeout = 30000")
        .await
        .expect("set");
    one(&mut conn).await
}

fn acquire(c: &mut Criterion, rt: &Runtime, db: &Database, default_pool: &sqlx::PgPool) {
    let mut g = c.benchmark_group("db_acquire");
    g.bench_function("raw_default", |b| {
        b.to_async(rt).iter(|| acquire_raw(default_pool))
    });
    g.bench_function("raw_same_job", |b| {
        b.to_async(rt).iter(|| acquire_same_job(db.pool()))
    });
    g.bench_function("raw_bare", |b| {
        b.to_async(rt).iter(|| acquire_raw(db.pool()))
    });
    g.bench_function("kit", |b| b.to_async(rt).iter(|| acquire_kit(db)));
    g.finish();
}

/// On-CPU time of this thread so far, ns (`/proc/thread-self/schedstat`; with the
/// current-thread runtime every client-side instruction runs on it): unlike wall time, not
/// stretched by other processes on a loaded machine.
fn cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Client CPU per query, ns: the lowest of `ROUNDS` rounds of `PER_ROUND` runs of `job`,
/// alternating with `other` so both see the same conditions.
fn cpu_per_query(
    rt: &Runtime,
    mut job: impl FnMut(&Runtime),
    mut other: impl FnMut(&Runtime),
) -> (f64, f64) {
    let (mut best_job, mut best_other) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..ROUNDS {
        for (f, best) in [
            (&mut job as &mut dyn FnMut(&Runtime), &mut best_job),
            (&mut other as &mut dyn FnMut(&Runtime), &mut best_other),
        ] {
            let Some(before) = cpu_ns() else {
                return (f64::NAN, f64::NAN);
            };
            f(rt);
            let Some(after) = cpu_ns() else {
                return (f64::NAN, f64::NAN);
            };
            *best = best.min((after - before) as f64 / f64::from(PER_ROUND));
        }
    }
    (best_job, best_other)
}

/// Alternating rounds of `PER_ROUND` queries each.
fn paired(rt: &Runtime, db: &Database, default_pool: &sqlx::PgPool) {
    let mut raw_conn = rt.block_on(db.pool().acquire()).expect("acquire");
    let mut kit_conn = rt.block_on(db.acquire()).expect("acquire");
    let (median, fastest) = paired_ratio(
        ROUNDS,
        || {
            rt.block_on(async {
                for _ in 0..PER_ROUND {
                    one(&mut raw_conn).await;
                }
            })
        },
        || {
            rt.block_on(async {
                for _ in 0..PER_ROUND {
                    one_kit(&mut kit_conn).await;
                }
            })
        },
    );
    eprintln!("AB-RATIO db_held kit/raw: median {median:.3}x, fastest {fastest:.3}x");
    let (median, fastest) = paired_ratio(
        ROUNDS,
        || {
            rt.block_on(async {
                for _ in 0..PER_ROUND {
                    one(&mut raw_conn).await;
                }
            })
        },
        || {
            rt.block_on(boost_rpc::deadline::scope(far(), async {
                for _ in 0..PER_ROUND {
                    one_kit(&mut kit_conn).await;
                }
            }))
        },
    );
    eprintln!("AB-RATIO db_held kit_in_call/raw: median {median:.3}x, fastest {fastest:.3}x");
    let (raw_cpu, kit_cpu) = cpu_per_query(
        rt,
        |rt| {
            rt.block_on(async {
                for _ in 0..PER_ROUND {
                    one(&mut raw_conn).await;
                }
            })
        },
        |rt| {
            rt.block_on(boost_rpc::deadline::scope(far(), async {
                for _ in 0..PER_ROUND {
                    one_kit(&mut kit_conn).await;
                }
            }))
        },
    );
    let (raw_out, kit_out) = cpu_per_query(
        rt,
        |rt| {
            rt.block_on(async {
                for _ in 0..PER_ROUND {
                    one(&mut raw_conn).await;
                }
            })
        },
        |rt| {
            rt.block_on(async {
                for _ in 0..PER_ROUND {
                    one_kit(&mut kit_conn).await;
                }
            })
        },
    );
    eprintln!(
        "CPU db_held: raw {raw_out:.0} ns, kit {kit_out:.0} ns per query of client CPU \
         (+{:.0} ns, {:.3}x)",
        kit_out - raw_out,
        kit_out / raw_out
    );
    eprintln!(
        "CPU db_held: raw {raw_cpu:.0} ns, kit_in_call {kit_cpu:.0} ns per query of client CPU \
         (+{:.0} ns, {:.3}x)",
        kit_cpu - raw_cpu,
        kit_cpu / raw_cpu
    );
    drop((raw_conn, kit_conn));
    rounds(rt, db, "raw_default", || {
        Box::pin(acquire_raw(default_pool))
    });
    rounds(rt, db, "raw_same_job", || {
        Box::pin(acquire_same_job(db.pool()))
    });
    rounds(rt, db, "raw_bare", || Box::pin(acquire_raw(db.pool())));
}

type Job<'a> = std::pin::Pin<Box<dyn Future<Output = i32> + 'a>>;

/// Paired rounds of acquire + query: the kit against `raw`.
fn rounds<'a>(rt: &Runtime, db: &Database, name: &str, raw: impl Fn() -> Job<'a>) {
    let (median, fastest) = paired_ratio(
        ROUNDS,
        || {
            rt.block_on(async {
                for _ in 0..PER_ROUND {
                    raw().await;
                }
            })
        },
        || {
            rt.block_on(async {
                for _ in 0..PER_ROUND {
                    acquire_kit(db).await;
                }
            })
        },
    );
    eprintln!("AB-RATIO db_acquire kit/{name}: median {median:.3}x, fastest {fastest:.3}x");
}
