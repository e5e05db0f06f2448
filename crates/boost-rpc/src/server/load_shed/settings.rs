//! [`AdaptiveLimitSettings`]: the knobs of the adaptive concurrency limit.

use std::time::Duration;

use boost_config::{Document, Problems, Validate};
use serde::{Deserialize, Serialize};

/// An adaptive concurrency limit (`[grpc.server.adaptive_limit]`): the limit
/// follows the server's latency instead of staying at `concurrency_limit`,
/// which becomes its ceiling. Off by default. See
/// [`load_shed`](super) for the algorithm (Netflix's Gradient2) and why.
///
/// ```toml
/// [grpc.server.adaptive_limit]
/// enabled = true
/// min_limit = 10
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = adaptive_rules)]
#[non_exhaustive]
pub struct AdaptiveLimitSettings {
    /// Whether the limit adapts. Off, the server sheds at the fixed
    /// `concurrency_limit` exactly as before. On, the limit moves between
    /// `min_limit` and `concurrency_limit` (which must then be more than 0).
    /// Default: `false`.
    pub enabled: bool,
    /// The limit a new server starts with; at least `min_limit`, at most
    /// `concurrency_limit`. Default: `20` (Netflix's). Start below what the
    /// server can take: the limit learns the server's no-load latency from
    /// its first windows, and grows from there by about `sqrt(limit)` per
    /// second (to 200 in about 10 s) while latency stays near it.
    pub initial_limit: usize,
    /// The limit never falls below this, however slow calls get; at least 1.
    /// Default: `10`.
    pub min_limit: usize,
    /// How far the limit moves towards each window's target, from more than
    /// 0 to 1. Default: `0.2` (Netflix's): at most 10% down per window.
    pub smoothing: f64,
    /// Latency above the no-load latency that is not yet queueing: the limit
    /// falls only while a window's mean latency is more than this many times
    /// the long-term one. From 1 to 10. Default: `1.5` (Netflix's): calls
    /// may take up to 1.5 times their unloaded time before the server sheds.
    pub tolerance: f64,
    /// How often the limit is updated: a window closes after this long and at
    /// least `window_samples` calls. From `10ms` to `10s`. Default:
    /// `"100ms"`, so a server reacts to a capacity drop within a second.
    #[serde(with = "boost_config::duration")]
    pub window: Duration,
    /// Calls a window needs before it may close (its mean latency is one
    /// sample for the algorithm). From 1 to 10,000. Default: `10`.
    pub window_samples: u32,
    /// How long the long-term (no-load) latency remembers: an exponential
    /// average over this much time of windows. From `1s` to `1h`. Default:
    /// `"10m"` (Netflix's 600 one-second windows). Shorter follows a real
    /// change of the handler's speed sooner, but lets a long overload raise
    /// what counts as "no load".
    #[serde(with = "boost_config::duration")]
    pub long_window: Duration,
    /// The `grpc-retry-pushback-ms` a shed gRPC call carries: a boost-rpc
    /// client that retries `RESOURCE_EXHAUSTED` waits this long (on any
    /// endpoint) instead of its own backoff. From `1ms` to `1m`. Default:
    /// `"100ms"`. (The fixed limit sends none, as before.)
    #[serde(with = "boost_config::duration")]
    pub retry_pushback: Duration,
}

// `f64` fields are finite (validated), so equality is an equivalence.
impl Eq for AdaptiveLimitSettings {}

impl Default for AdaptiveLimitSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            initial_limit: 20,
            min_limit: 10,
            smoothing: 0.2,
            tolerance: 1.5,
            window: Duration::from_millis(100),
            window_samples: 10,
            long_window: Duration::from_secs(600),
            retry_pushback: Duration::from_millis(100),
        }
    }
}

/// The rules of [`AdaptiveLimitSettings`] alone; the ceiling
/// (`concurrency_limit`) is checked by [`ceiling_rules`].
fn adaptive_rules(settings: &AdaptiveLimitSettings, problems: &mut Problems) {
    if settings.min_limit == 0 {
        problems.add(
            "min_limit",
            "must be at least 1 (a limit of 0 refuses every call), e.g. 10",
        );
    }
    if settings.initial_limit < settings.min_limit {
        problems.add(
            "initial_limit",
            format!(
                "is {}, below min_limit ({}); use at least {}",
                settings.initial_limit, settings.min_limit, settings.min_limit
            ),
        );
    }
    if !(settings.smoothing > 0.0 && settings.smoothing <= 1.0) {
        problems.add(
            "smoothing",
            format!(
                "is {}; must be more than 0 and at most 1, e.g. 0.2",
                settings.smoothing
            ),
        );
    }
    if !(1.0..=10.0).contains(&settings.tolerance) {
        problems.add(
            "tolerance",
            format!(
                "is {}; must be from 1 to 10, e.g. 1.5 (calls may take 1.5 times their \
                 no-load time before the limit falls)",
                settings.tolerance
            ),
        );
    }
    in_range(
        problems,
        "window",
        settings.window,
        Duration::from_millis(10),
        Duration::from_secs(10),
        "\"100ms\"",
    );
    if !(1..=10_000).contains(&settings.window_samples) {
        problems.add(
            "window_samples",
            format!(
                "is {}; must be from 1 to 10000, e.g. 10",
                settings.window_samples
            ),
        );
    }
    in_range(
        problems,
        "long_window",
        settings.long_window,
        Duration::from_secs(1),
        Duration::from_secs(3600),
        "\"10m\"",
    );
    in_range(
        problems,
        "retry_pushback",
        settings.retry_pushback,
        Duration::from_millis(1),
        Duration::from_secs(60),
        "\"100ms\"",
    );
}

/// The rules that tie the adaptive limit to its ceiling, `concurrency_limit`
/// (called by the server settings' rules, keys relative to `grpc.server`).
pub(crate) fn ceiling_rules(
    adaptive: &AdaptiveLimitSettings,
    ceiling: usize,
    problems: &mut Problems,
) {
    if !adaptive.enabled {
        return;
    }
    if ceiling == 0 {
        problems.add(
            "concurrency_limit",
            "is 0 (no limit) while adaptive_limit.enabled is true: the adaptive limit needs a \
             ceiling; set concurrency_limit (e.g. 1024) or turn adaptive_limit off",
        );
        return;
    }
    if adaptive.initial_limit > ceiling {
        problems.add(
            "adaptive_limit.initial_limit",
            format!(
                "is {}, above concurrency_limit ({ceiling}), the adaptive limit's ceiling; \
                 use at most {ceiling}",
                adaptive.initial_limit
            ),
        );
    }
    if adaptive.min_limit > ceiling {
        problems.add(
            "adaptive_limit.min_limit",
            format!(
                "is {}, above concurrency_limit ({ceiling}), the adaptive limit's ceiling; \
                 use at most {ceiling}",
                adaptive.min_limit
            ),
        );
    }
}

/// Adds a problem under `key` unless `min <= value <= max`.
fn in_range(
    problems: &mut Problems,
    key: &str,
    value: Duration,
    min: Duration,
    max: Duration,
    example: &str,
) {
    if value < min || value > max {
        problems.add(
            key,
            format!("{value:?} is outside {min:?}..={max:?}; use e.g. {example}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_off() {
        let defaults = AdaptiveLimitSettings::default();
        assert!(!defaults.enabled);
        let mut problems = Problems::new();
        problems.check("grpc.server.adaptive_limit", &defaults);
        assert_eq!(problems.keys().count(), 0);
    }

    #[test]
    fn every_bad_value_is_named_by_its_key() {
        let bad = AdaptiveLimitSettings {
            enabled: true,
            initial_limit: 0,
            min_limit: 0,
            smoothing: f64::NAN,
            tolerance: 0.5,
            window: Duration::ZERO,
            window_samples: 0,
            long_window: Duration::from_secs(7200),
            retry_pushback: Duration::ZERO,
        };
        let mut problems = Problems::new();
        problems.check("grpc.server.adaptive_limit", &bad);
        let keys: Vec<_> = problems.keys().collect();
        assert_eq!(
            keys,
            [
                "grpc.server.adaptive_limit.min_limit",
                "grpc.server.adaptive_limit.smoothing",
                "grpc.server.adaptive_limit.tolerance",
                "grpc.server.adaptive_limit.window",
                "grpc.server.adaptive_limit.window_samples",
                "grpc.server.adaptive_limit.long_window",
                "grpc.server.adaptive_limit.retry_pushback",
            ]
        );
    }

    #[test]
    fn the_ceiling_is_concurrency_limit() {
        let on = AdaptiveLimitSettings {
            enabled: true,
            ..AdaptiveLimitSettings::default()
        };
        let mut problems = Problems::new();
        ceiling_rules(&on, 0, &mut problems);
        assert_eq!(problems.keys().collect::<Vec<_>>(), ["concurrency_limit"]);
        let mut problems = Problems::new();
        ceiling_rules(&on, 15, &mut problems);
        assert_eq!(
            problems.keys().collect::<Vec<_>>(),
            ["adaptive_limit.initial_limit"]
        );
        let mut problems = Problems::new();
        ceiling_rules(&AdaptiveLimitSettings::default(), 0, &mut problems);
        assert_eq!(problems.keys().count(), 0, "off: no ceiling needed");
    }
}
