//! [`SloSettings`]: the `[slo]` section of a service's config.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use boost_config::{Document, Problems, Validate};
use boost_metrics::MetricsSettings;
use boost_metrics::conventions::{
    DURATION_BUCKETS_SECONDS, HTTP_SERVER_REQUEST_DURATION, RPC_SERVER_CALL_DURATION,
};
use serde::{Deserialize, Serialize};

use crate::burn::Tier;

/// Most per-method objectives: each adds a dozen recording rules and six
/// alerts, evaluated every minute by Prometheus.
pub const MAX_METHODS: usize = 32;

/// Longest accepted gRPC method name (`package.Service/Method`).
const MAX_METHOD_LEN: usize = 256;

/// Shortest and longest SLO window: shorter than a week makes the 3-day
/// ticket window most of the budget; longer than a quarter is not a window
/// anyone reviews.
const MIN_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
const MAX_WINDOW: Duration = Duration::from_secs(90 * 24 * 3600);

/// The service's objectives, from which the alert rules, the Alertmanager
/// route and the runbook are generated (`--print-alert-rules`,
/// `--print-alertmanager-route`, `--print-runbook`, `GET /runbook`).
///
/// Every field has a default that suits a new service, so no `[slo]` section
/// at all gives a 99.9 % availability and a 99 % under 250 ms latency
/// objective over 30 days:
///
/// ```toml
/// [slo]
/// window = "30d"
/// [slo.availability]
/// target = 99.9
/// [slo.latency]
/// target = 99.0
/// threshold = 0.25
/// [slo.methods."hello.v1.Greeter/SayHello".latency]
/// target = 99.5
/// threshold = 0.1
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = rules)]
#[non_exhaustive]
pub struct SloSettings {
    /// The Prometheus `job` label of this service's scraped series, which
    /// every generated rule selects on (scraped series carry `job` and
    /// `instance`, not the service's name). Default: empty, meaning the
    /// service's name (`service.name`): name the scrape job after the service.
    pub job: String,
    /// The SLO window: the period over which the error budget is counted.
    /// The burn-rate factors of the SRE workbook (14.4, 6, 1) are for 30
    /// days and are scaled to it. 7 to 90 days. Default: `"30days"`.
    #[serde(with = "boost_config::duration")]
    pub window: Duration,
    /// The service-wide availability objective, over every gRPC call and
    /// HTTP request the service answers.
    pub availability: AvailabilityObjective,
    /// The service-wide latency objective, over every gRPC call and HTTP
    /// request the service answers.
    pub latency: LatencyObjective,
    /// Objectives of single gRPC methods (`package.Service/Method`, as the
    /// `rpc_method` label has it), alerted on separately from the
    /// service-wide ones: `[slo.methods."hello.v1.Greeter/SayHello".latency]`.
    /// Each may set `availability`, `latency` or both. At most 32.
    /// Default: none.
    pub methods: BTreeMap<String, MethodObjectives>,
    /// A Markdown file of the team's own runbook text, merged into the
    /// generated runbook (`GET /runbook`, `--print-runbook`): a section
    /// `## <AlertName>` adds to that alert's section, anything before the
    /// first such heading comes first. Read at start, at most 256 KiB. A
    /// relative path set in a configuration file is relative to that file's
    /// directory (`"../runbook.md"` in `config/prod.toml`); set by an
    /// environment variable or `--set`, relative to the working directory.
    /// Default: unset.
    pub runbook_extra: Option<PathBuf>,
    /// The admin server as the on-call engineer reaches it, e.g.
    /// `http://hello-service.prod.internal:8081`: the base of the runbook's
    /// commands and of each alert's `runbook_url` when `service.runbook_url`
    /// is empty. Default: empty, meaning `http://<admin.listen>` with an
    /// unspecified address (`0.0.0.0`) shown as `localhost` (commands run on
    /// the instance).
    pub admin_url: String,
    /// The Grafana dashboard each alert's `dashboard` annotation links to.
    /// Default: empty, meaning `/d/boost-<service name>` (the generated
    /// dashboard's uid, relative to your Grafana).
    pub dashboard_url: String,
}

impl Default for SloSettings {
    fn default() -> Self {
        Self {
            job: String::new(),
            window: Duration::from_secs(30 * 24 * 3600),
            availability: AvailabilityObjective::default(),
            latency: LatencyObjective::default(),
            methods: BTreeMap::new(),
            runbook_extra: None,
            admin_url: String::new(),
            dashboard_url: String::new(),
        }
    }
}

/// An availability objective: the share of calls that do not end in a
/// server fault.
///
/// A gRPC call counts as a server fault when it ends with `UNKNOWN`,
/// `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS` or `DEADLINE_EXCEEDED` (the
/// [`SERVER_FAULT_CODES`]); an HTTP request when it is answered `5xx`. The
/// other codes are the caller's doing (`INVALID_ARGUMENT`, `NOT_FOUND`,
/// `PERMISSION_DENIED`, `UNAUTHENTICATED`, `FAILED_PRECONDITION`, …) or the
/// caller giving up (`CANCELLED`). `RESOURCE_EXHAUSTED` is left out because
/// it also answers a caller over its quota or a message over the size limit;
/// the server refusing calls under load is watched by the `LoadShedding`
/// alert instead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = availability_rules)]
#[non_exhaustive]
pub struct AvailabilityObjective {
    /// Whether this objective is alerted on. Default: `true`.
    pub enabled: bool,
    /// The share of calls, in percent, that must not end in a server fault
    /// over the window: `99.9` leaves an error budget of 0.1 %. Between
    /// 93.06 (below it the 14.4x fast-burn alert could never fire: it would
    /// need more than 100 % errors) and 99.999. Default: `99.9`.
    pub target: f64,
}

impl Default for AvailabilityObjective {
    fn default() -> Self {
        Self {
            enabled: true,
            target: 99.9,
        }
    }
}

/// A latency objective: the share of calls answered within a threshold.
///
/// Counted from the duration histograms (`le` bucket at the threshold over
/// the count), every answered call included, errors too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = latency_rules)]
#[non_exhaustive]
pub struct LatencyObjective {
    /// Whether this objective is alerted on. Default: `true`.
    pub enabled: bool,
    /// The share of calls, in percent, that must be answered within
    /// `threshold` over the window. Between 93.06 and 99.999. Default: `99.0`.
    pub target: f64,
    /// The latency, in seconds, a call must be answered within. It must be
    /// one of the duration histograms' bucket bounds (the default buckets
    /// 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5,
    /// 10, or `[metrics.buckets]` for `rpc_server_call_duration_seconds` and
    /// `http_server_request_duration_seconds`): only there can Prometheus
    /// count the calls under it exactly. Default: `0.25`.
    pub threshold: f64,
}

impl Default for LatencyObjective {
    fn default() -> Self {
        Self {
            enabled: true,
            target: 99.0,
            threshold: 0.25,
        }
    }
}

/// The objectives of one gRPC method (`[slo.methods."<method>"]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MethodObjectives {
    /// This method's availability objective. Default: unset (only the
    /// service-wide one covers it).
    pub availability: Option<AvailabilityObjective>,
    /// This method's latency objective. Default: unset.
    pub latency: Option<LatencyObjective>,
}

/// The gRPC status codes that count against availability: the server
/// failed (`UNKNOWN`, `INTERNAL`, `DATA_LOSS`: a bug or a panic;
/// `UNAVAILABLE`: the server or its upstream could not serve), or did not
/// answer in time (`DEADLINE_EXCEEDED`: from the caller's side, an outage).
pub const SERVER_FAULT_CODES: &[&str] = &[
    "UNKNOWN",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "DEADLINE_EXCEEDED",
];

/// The lowest target the fastest page can fire for, in percent: its burn
/// factor times the error budget must stay at most 1 (100 % errors).
pub fn lowest_target(window: Duration) -> f64 {
    let factor = Tier::FastPage.factor(window);
    100.0 * (1.0 - 1.0 / factor)
}

const HIGHEST_TARGET: f64 = 99.999;

fn rules(settings: &SloSettings, problems: &mut Problems) {
    if settings.window < MIN_WINDOW || settings.window > MAX_WINDOW {
        problems.add(
            "window",
            format!(
                "is {}s; give 7 to 90 days, e.g. \"30d\" (the 3-day ticket window must be a \
                 small part of it)",
                settings.window.as_secs()
            ),
        );
    } else {
        // The targets' lower bound depends on the window.
        let lowest = lowest_target(settings.window);
        let mut check = |key: &str, target: f64| {
            if target.is_finite() && target < lowest {
                problems.add(
                    key,
                    format!(
                        "is {target}, below {lowest:.2}: the fastest page fires at {:.1}x the \
                         budget, which would need more than 100 % of calls to fail; raise the \
                         target or turn the objective off (enabled = false)",
                        Tier::FastPage.factor(settings.window)
                    ),
                );
            }
        };
        check("availability.target", settings.availability.target);
        check("latency.target", settings.latency.target);
        for (method, objectives) in &settings.methods {
            if let Some(a) = &objectives.availability {
                check(&format!("methods.{method}.availability.target"), a.target);
            }
            if let Some(l) = &objectives.latency {
                check(&format!("methods.{method}.latency.target"), l.target);
            }
        }
    }
    if !settings.job.is_empty() && !is_label_value(&settings.job) {
        problems.add(
            "job",
            "must be the scrape job's name: at most 128 printable characters without quotes \
             or backslashes, or empty for the service's name",
        );
    }
    if settings.methods.len() > MAX_METHODS {
        problems.add(
            "methods",
            format!(
                "has {} methods, more than {MAX_METHODS}; keep per-method objectives for the \
                 few methods that matter most",
                settings.methods.len()
            ),
        );
    }
    for method in settings.methods.keys() {
        if !is_method_name(method) {
            problems.add(
                &format!("methods.{method}"),
                "is not a gRPC method name as the rpc_method label has it: \
                 `package.Service/Method` (letters, digits, `.`, `_`), e.g. \
                 \"hello.v1.Greeter/SayHello\"",
            );
        }
    }
    for key in ["admin_url", "dashboard_url"] {
        let value = if key == "admin_url" {
            &settings.admin_url
        } else {
            &settings.dashboard_url
        };
        if value.len() > 512 || value.chars().any(|c| c.is_control() || c == '"') {
            problems.add(
                key,
                "must be a URL of at most 512 characters without quotes or control characters",
            );
        } else if !value.is_empty() && !is_link(value, key == "dashboard_url") {
            // Pasted into the runbook's shell commands and into alert links.
            problems.add(
                key,
                if key == "dashboard_url" {
                    "must be an http(s):// URL with a host, or a path starting with `/` \
                     (relative to your Grafana), with no spaces, quotes, `;`, `$` or backticks"
                } else {
                    "must be an http(s):// URL with a host, e.g. \
                     \"http://hello-service.prod.internal:8081\", with no spaces, quotes, `;`, \
                     `$` or backticks"
                },
            );
        }
    }
}

/// An absolute `http(s)` URL with a host (or, with `relative`, a path from
/// `/`) that is safe to paste into a shell command: no whitespace, quotes,
/// `;`, `$`, backticks or backslashes.
fn is_link(value: &str, relative: bool) -> bool {
    if value
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '\'' | '"' | ';' | '$' | '`' | '\\'))
    {
        return false;
    }
    if relative && value.starts_with('/') && !value.starts_with("//") {
        return true;
    }
    let Some((scheme, rest)) = value.split_once("://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    matches!(scheme, "http" | "https") && !host.is_empty() && !host.starts_with(':')
}

fn check_target(target: f64, problems: &mut Problems) {
    if !target.is_finite() || target <= 0.0 || target > HIGHEST_TARGET {
        problems.add(
            "target",
            format!(
                "is {target}; give a percentage below 100 and at most {HIGHEST_TARGET}, e.g. \
                 99.9 (100 leaves no error budget: every error would page)"
            ),
        );
    }
}

fn availability_rules(objective: &AvailabilityObjective, problems: &mut Problems) {
    check_target(objective.target, problems);
}

fn latency_rules(objective: &LatencyObjective, problems: &mut Problems) {
    check_target(objective.target, problems);
    if !objective.threshold.is_finite() || objective.threshold <= 0.0 {
        problems.add(
            "threshold",
            format!(
                "is {}; give a positive number of seconds that is a bucket bound of the \
                 duration histograms, e.g. 0.25",
                objective.threshold
            ),
        );
    }
}

impl SloSettings {
    /// The `job` label value the rules select on: [`job`](Self::job), or
    /// `service_name` when it is empty.
    pub fn job_or<'a>(&'a self, service_name: &'a str) -> &'a str {
        if self.job.is_empty() {
            service_name
        } else {
            &self.job
        }
    }

    /// The latency thresholds that are not a bucket bound of the duration
    /// histograms as `metrics` configures them, as `(key, problem)` with the
    /// key relative to `[slo]` (`latency.threshold`,
    /// `methods.<method>.latency.threshold`). The kit runs it when it loads
    /// its sections, beside [`Validate`].
    pub fn bucket_problems(&self, metrics: &MetricsSettings) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let mut check = |key: String, objective: &LatencyObjective| {
            if !objective.enabled || !objective.threshold.is_finite() {
                return;
            }
            for histogram in [RPC_SERVER_CALL_DURATION, HTTP_SERVER_REQUEST_DURATION] {
                let bounds = metrics
                    .buckets
                    .get(histogram)
                    .map_or(DURATION_BUCKETS_SECONDS, Vec::as_slice);
                if !bounds.contains(&objective.threshold) {
                    let listed: Vec<String> = bounds.iter().map(f64::to_string).collect();
                    found.push((
                        key.clone(),
                        format!(
                            "{} is not a bucket bound of `{histogram}` ({}), so Prometheus \
                             cannot count the calls under it; pick one of those, or add it to \
                             [metrics.buckets] {histogram}",
                            objective.threshold,
                            listed.join(", ")
                        ),
                    ));
                }
            }
        };
        check("latency.threshold".to_owned(), &self.latency);
        for (method, objectives) in &self.methods {
            if let Some(latency) = &objectives.latency {
                check(format!("methods.{method}.latency.threshold"), latency);
            }
        }
        found
    }
}

/// A gRPC full method name: `package.Service/Method`.
fn is_method_name(name: &str) -> bool {
    let Some((service, method)) = name.split_once('/') else {
        return false;
    };
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    };
    name.len() <= MAX_METHOD_LEN && word(service) && word(method) && !method.contains('.')
}

/// A value that can be put between double quotes in PromQL and YAML as is.
pub(crate) fn is_label_value(value: &str) -> bool {
    value.len() <= 128
        && value
            .chars()
            .all(|c| !c.is_control() && c != '"' && c != '\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_target_for_thirty_days_is_where_the_fast_burn_needs_all_calls_failing() {
        let lowest = lowest_target(Duration::from_secs(30 * 24 * 3600));
        assert!((lowest - 93.055).abs() < 0.01, "{lowest}");
    }

    #[test]
    fn method_names_are_grpc_full_names() {
        assert!(is_method_name("hello.v1.Greeter/SayHello"));
        assert!(!is_method_name("SayHello"));
        assert!(!is_method_name("hello.v1.Greeter/Say\"Hello"));
        assert!(!is_method_name("/SayHello"));
    }
}
