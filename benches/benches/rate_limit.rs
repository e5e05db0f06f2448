//! The per-key rate limit check against the bare governor limiter it wraps, in the same run.
//!
//! - `rate_limit_check/governor_keyed`: a governor `RateLimiter` keyed by `String` over its
//!   DashMap store, `check_key(&value.to_owned())` — what a team hand-wires from a header value;
//! - `rate_limit_check/kit`: `RateLimits::check(Some(value))` with the same quota: the same
//!   check plus the bounded key set (the default `max_keys`, 10,000: far from full, the set is
//!   only counted every 64 checks) and the refusal counters.
//!
//! 1,000 callers take turns, every quota far above the rate reached, so every check is
//! admitted (the path every request pays).
//!
//! Target: ≤ 1.10× the bare limiter.
//!
//! Run: `cargo bench -p boost-benches --bench rate_limit -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::num::NonZeroU32;

use boost_benches::report_ratio;
use boost_rpc::rate_limit::{RateLimitSettings, RateLimits};
use criterion::Criterion;
use governor::{Quota, RateLimiter};

const CALLERS: usize = 1_000;
const RATE: u32 = 1_000_000_000;

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let keys: Vec<String> = (0..CALLERS).map(|i| format!("caller-{i:04}")).collect();
    let rate = NonZeroU32::new(RATE).unwrap_or(NonZeroU32::MAX);
    let bare = RateLimiter::keyed(Quota::per_second(rate).allow_burst(rate));
    let kit = RateLimits::new(
        "grpc",
        &RateLimitSettings::default()
            .by_header("x-caller")
            .with_rate(RATE, RATE),
    );
    // Every key known before measuring, on both sides.
    for key in &keys {
        let _ = bare.check_key(key);
        let _ = kit.check(Some(key));
    }

    let mut g = c.benchmark_group("rate_limit_check");
    let mut turn = 0;
    g.bench_function("governor_keyed", |b| {
        b.iter(|| {
            turn = (turn + 1) % CALLERS;
            let value: &str = &keys[turn];
            black_box(bare.check_key(&value.to_owned()).is_ok())
        })
    });
    g.bench_function("kit", |b| {
        b.iter(|| {
            turn = (turn + 1) % CALLERS;
            black_box(kit.check(Some(&keys[turn])).is_ok())
        })
    });
    g.finish();
    c.final_summary();
    report_ratio("rate_limit_check", "governor_keyed", "kit");
}
