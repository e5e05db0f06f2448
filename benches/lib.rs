//! Shared helpers for the team-boost benchmarks.
//!
//! Every bench measures the raw library and team-boost in the same run, then
//! calls [`report_ratio`], which reads criterion's own estimates and prints
//! `ours / raw` so the run states the ratio its target is written against.

use std::path::PathBuf;

/// Criterion's output directory (`CARGO_TARGET_DIR` aware).
fn criterion_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}

/// The median (ns) criterion estimated for `group/id` in the latest run.
pub fn median_ns(group: &str, id: &str) -> Option<f64> {
    let path = criterion_dir()
        .join(sanitize(group))
        .join(sanitize(id))
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("median")?.get("point_estimate")?.as_f64()
}

/// Criterion's directory-name spelling of a group or bench id.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c => c,
        })
        .collect()
}

/// Prints `RATIO group: ours / raw = N.NNx` from criterion's medians for
/// `group/raw_id` and `group/ours_id`; call after `criterion.final_summary()`.
pub fn report_ratio(group: &str, raw_id: &str, ours_id: &str) {
    match (median_ns(group, raw_id), median_ns(group, ours_id)) {
        (Some(raw), Some(ours)) => eprintln!(
            "RATIO {group}: {ours_id} {ours:.1} ns / {raw_id} {raw:.1} ns = {:.3}x",
            ours / raw
        ),
        _ => eprintln!("RATIO {group}: no estimates found (was the bench filtered out?)"),
    }
}
