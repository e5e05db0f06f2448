//! Evaluating a runtime switch against a bare `AtomicBool` load, in the same run.
//!
//! - `switch_eval/atomic_bool`: `AtomicBool::load(Relaxed)` through an `Arc`, what a team
//!   would hand-wire; `switch_eval/switch`: `Switch::is_on` on a handle from `Switches::get`.
//! - `rollout_eval/hash_only`: FNV-1a of a 12-byte key (the raw cost of bucketing);
//!   `rollout_eval/rollout`: `Rollout::is_on_for` on the same key.
//!
//! Target: a switch evaluation ≤ 5 ns and no allocation (issue 17).
//!
//! Run: `cargo bench -p boost-benches --bench switches -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use boost_benches::report_ratio;
use boost_switches::{SwitchDef, Switches};
use criterion::Criterion;

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let switches = Switches::in_memory([
        (
            "partner_hertz",
            SwitchDef::toggle("Call Hertz.", "cars", true),
        ),
        (
            "new_pricing",
            SwitchDef::rollout("New engine.", "pricing", 25.0),
        ),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let switch = switches
        .get("partner_hertz")
        .unwrap_or_else(|e| panic!("{e}"));
    let rollout = switches
        .rollout("new_pricing")
        .unwrap_or_else(|e| panic!("{e}"));
    let flag = Arc::new(AtomicBool::new(true));

    let mut g = c.benchmark_group("switch_eval");
    g.bench_function("atomic_bool", |b| {
        b.iter(|| black_box(&flag).load(Ordering::Relaxed))
    });
    g.bench_function("switch", |b| b.iter(|| black_box(&switch).is_on()));
    g.finish();

    let key = "customer-042";
    let mut g = c.benchmark_group("rollout_eval");
    g.bench_function("hash_only", |b| {
        b.iter(|| fnv1a(black_box(key).as_bytes()) % 10_000 < 2_500)
    });
    g.bench_function("rollout", |b| {
        b.iter(|| black_box(&rollout).is_on_for(black_box(key)))
    });
    g.finish();

    c.final_summary();
    report_ratio("switch_eval", "atomic_bool", "switch");
    report_ratio("rollout_eval", "hash_only", "rollout");
}
