//! Config loading against raw `toml::from_str`, in the same run: is the loader linear in keys?
//!
//! - `config_load_map/{10k,100k}`: a `default.toml` with one map-typed section of 10,000 or
//!   100,000 keys (`k000001 = 1`), read into `BTreeMap<String, u32>`. Raw = `std::fs::read` +
//!   `toml::from_str` of the same file into the same type; ours = `Loader::load` (six layers,
//!   provenance, line numbers, unknown-key detection, validation).
//! - `config_unknown_keys/{10k,100k}`: the same keys in a struct section that has none of them:
//!   the loader finds and counts every unknown key and lists 20 (raw: toml stops at the first).
//!
//! Target: 100k keys load in < 1 s (issue 13), and the 100k/10k ratio near 10 (linear).
//!
//! Run: `cargo bench -p boost-benches --bench config -- --warm-up-time 1 --measurement-time 5`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;

use boost_benches::{median_ns, report_ratio};
use boost_config::{Loader, Validate};
use criterion::Criterion;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct Routed {
    grpc: Grpc,
    routes: BTreeMap<String, u32>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct Grpc {
    listen: String,
}

impl Validate for Routed {}

fn write(dir: &Path, section: &str, keys: usize) {
    let mut text = format!("[{section}]\n");
    for i in 0..keys {
        text.push_str(&format!("k{i:06} = 1\n"));
    }
    std::fs::write(dir.join("default.toml"), text).unwrap();
}

fn loader(dir: &Path) -> Loader {
    Loader::new("bench")
        .dir(dir)
        .env_vars(Vec::<(String, String)>::new())
}

fn raw(dir: &Path) -> Result<Routed, toml::de::Error> {
    let text = std::fs::read_to_string(dir.join("default.toml")).unwrap();
    toml::from_str(&text)
}

fn bench(c: &mut Criterion, group: &str, section: &str) {
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    for (label, keys) in [("10k", 10_000), ("100k", 100_000)] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), section, keys);
        let loader = loader(dir.path());
        g.bench_function(format!("raw_{label}"), |b| {
            b.iter(|| black_box(raw(dir.path()).is_ok()))
        });
        g.bench_function(format!("ours_{label}"), |b| {
            b.iter(|| black_box(loader.load::<Routed>().is_ok()))
        });
    }
    g.finish();
    report_ratio(group, "raw_100k", "ours_100k");
    if let (Some(small), Some(large)) =
        (median_ns(group, "ours_10k"), median_ns(group, "ours_100k"))
    {
        eprintln!(
            "SCALING {group}: ours 100k {:.1} ms / 10k {:.1} ms = {:.2}x (linear: 10x)",
            large / 1e6,
            small / 1e6,
            large / small
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, "config_load_map", "routes");
    bench(&mut c, "config_unknown_keys", "grpc");
    c.final_summary();
}
