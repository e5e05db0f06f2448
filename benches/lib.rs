//! Shared helpers for the team-boost benchmarks.
//!
//! Every bench measures the raw library and team-boost in the same run, then
//! calls [`report_ratio`], which reads criterion's own estimates and prints
//! `ours / raw` so the run states the ratio its target is written against.

use std::path::PathBuf;
use std::time::Instant;

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

/// Wall-time `ours / raw` from `rounds` back-to-back pairs: the median of the
/// pair ratios, and the ratio of the two fastest times. On a shared, loaded
/// machine both are steadier than comparing two medians measured seconds
/// apart; the fastest times are the least disturbed by other processes.
pub fn paired_ratio(rounds: usize, mut raw: impl FnMut(), mut ours: impl FnMut()) -> (f64, f64) {
    let (mut fastest_raw, mut fastest_ours) = (f64::INFINITY, f64::INFINITY);
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|round| {
            let time = |f: &mut dyn FnMut()| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64()
            };
            // Alternate which goes first so neither always finds the cache warm.
            let (r, o) = if round % 2 == 0 {
                let r = time(&mut raw);
                (r, time(&mut ours))
            } else {
                let o = time(&mut ours);
                (time(&mut raw), o)
            };
            fastest_raw = fastest_raw.min(r);
            fastest_ours = fastest_ours.min(o);
            o / r
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    (ratios[ratios.len() / 2], fastest_ours / fastest_raw)
}

/// What a generated gRPC client (`GreeterClient<T>`) needs of its transport
/// to be called from spawned tasks: the raw tonic `Channel`, boost-rpc's
/// `Client` and a `Channel` under a tower layer all qualify.
pub trait Transport:
    tonic::client::GrpcService<
        tonic::body::Body,
        Future: Send,
        Error: Into<tonic::codegen::StdError>,
        ResponseBody: tonic::codegen::Body<
            Data = tonic::codegen::Bytes,
            Error: Into<tonic::codegen::StdError> + Send,
        > + Send
                          + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<T> Transport for T where
    T: tonic::client::GrpcService<
            tonic::body::Body,
            Future: Send,
            Error: Into<tonic::codegen::StdError>,
            ResponseBody: tonic::codegen::Body<
                Data = tonic::codegen::Bytes,
                Error: Into<tonic::codegen::StdError> + Send,
            > + Send
                              + 'static,
        > + Clone
        + Send
        + 'static
{
}
