//! The alerts: burn-rate alerts per objective, and the kit's own. One list,
//! from which both the rules file and the runbook are written, so every
//! alert has its runbook section.

use std::time::Duration;

use boost_config::ServiceIdentity;
use boost_metrics::conventions::{
    HTTP_CLIENT_EJECTIONS_TOTAL, HTTP_CLIENT_RETRIES_TOTAL, LOG_DROPPED_LINES_TOTAL,
    METRICS_CARDINALITY_OVERFLOW_TOTAL, PROCESS_START_TIME_SECONDS, RPC_CLIENT_ENDPOINTS,
    RPC_CLIENT_RETRY_BUDGET_EXHAUSTED_TOTAL, RPC_SERVER_CALL_DURATION, RPC_SERVER_SHED_TOTAL,
    TLS_CERTIFICATE_EXPIRY,
};

use crate::burn::{SLI_WINDOWS, Tier};
use crate::promql::{self, Scope};
use crate::settings::{SERVER_FAULT_CODES, SloSettings};

const MINUTE: Duration = Duration::from_secs(60);

/// What the runbook says about one alert.
#[derive(Clone, Debug)]
pub(crate) struct Guide {
    /// What firing means, for someone woken by it.
    pub(crate) meaning: String,
    /// What to look at first: Markdown list items; `{admin}` is the admin URL.
    pub(crate) check: Vec<String>,
    /// What a level-2 operator may do about this alert without escalating,
    /// and which knobs are not theirs to turn: Markdown list items; `{admin}`
    /// is the admin URL, `{token}` the shell expression of the admin token.
    pub(crate) act: Vec<String>,
    /// Whether the service's runtime switches may help with this alert (its
    /// section then lists them with their commands).
    pub(crate) switches: bool,
}

/// One alerting rule.
#[derive(Clone, Debug)]
pub(crate) struct Alert {
    pub(crate) name: String,
    pub(crate) severity: &'static str,
    /// Labels beyond `service`, `team` and `severity`.
    pub(crate) labels: Vec<(&'static str, String)>,
    pub(crate) expr: String,
    /// Unscaled.
    pub(crate) for_duration: Option<Duration>,
    pub(crate) summary: String,
    pub(crate) description: String,
    pub(crate) guide: Guide,
}

/// One recording rule.
#[derive(Clone, Debug)]
pub(crate) struct Recording {
    pub(crate) record: String,
    pub(crate) expr: String,
    pub(crate) labels: Vec<(&'static str, String)>,
}

/// One objective, service-wide or of one method.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Objective<'a> {
    pub(crate) kind: Kind,
    pub(crate) target: f64,
    pub(crate) threshold: f64,
    pub(crate) method: Option<&'a str>,
}

/// Availability or latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Availability,
    Latency,
}

impl Kind {
    pub(crate) const fn label(self) -> &'static str {
        match self {
            Kind::Availability => "availability",
            Kind::Latency => "latency",
        }
    }
    const fn title(self) -> &'static str {
        match self {
            Kind::Availability => "Availability",
            Kind::Latency => "Latency",
        }
    }
}

impl Objective<'_> {
    pub(crate) fn budget(&self) -> f64 {
        (100.0 - self.target) / 100.0
    }
}

/// Every enabled objective, service-wide first, then per method.
pub(crate) fn objectives(slo: &SloSettings) -> Vec<Objective<'_>> {
    let mut out = Vec::new();
    if slo.availability.enabled {
        out.push(Objective {
            kind: Kind::Availability,
            target: slo.availability.target,
            threshold: 0.0,
            method: None,
        });
    }
    if slo.latency.enabled {
        out.push(Objective {
            kind: Kind::Latency,
            target: slo.latency.target,
            threshold: slo.latency.threshold,
            method: None,
        });
    }
    for (method, objectives) in &slo.methods {
        if let Some(a) = objectives.availability.as_ref().filter(|a| a.enabled) {
            out.push(Objective {
                kind: Kind::Availability,
                target: a.target,
                threshold: 0.0,
                method: Some(method),
            });
        }
        if let Some(l) = objectives.latency.as_ref().filter(|l| l.enabled) {
            out.push(Objective {
                kind: Kind::Latency,
                target: l.target,
                threshold: l.threshold,
                method: Some(method),
            });
        }
    }
    out
}

/// The name of the SLI recording rule over `window` (unscaled: the name
/// stays the same when the windows are shortened for tests).
pub(crate) fn sli_record(window: Duration) -> String {
    format!("slo:sli_error:ratio_rate{}", promql::duration(window))
}

/// The recording rules: every objective's error ratio over every window,
/// and its objective as a constant for dashboards.
pub(crate) fn recordings(
    slo: &SloSettings,
    identity: &ServiceIdentity,
    scale: f64,
) -> Vec<Recording> {
    let job = slo.job_or(&identity.name);
    let mut out = Vec::new();
    for objective in objectives(slo) {
        let scope = Scope {
            job,
            method: objective.method,
        };
        let mut labels = vec![
            ("service", identity.name.clone()),
            ("slo", objective.kind.label().to_owned()),
        ];
        if let Some(method) = objective.method {
            labels.push(("rpc_method", method.to_owned()));
        }
        for window in SLI_WINDOWS {
            let range = promql::duration(promql::scaled(*window, scale));
            let expr = match objective.kind {
                Kind::Availability => scope.availability_errors(&range),
                Kind::Latency => scope.latency_errors(objective.threshold, &range),
            };
            out.push(Recording {
                record: sli_record(*window),
                expr,
                labels: labels.clone(),
            });
        }
        let sel = format!(
            "service={},slo=\"{}\",rpc_method={}",
            promql::string(&identity.name),
            objective.kind.label(),
            promql::string(objective.method.unwrap_or("")),
        );
        out.push(Recording {
            record: "slo:error_budget:remaining_ratio".to_owned(),
            expr: format!(
                "1 - avg_over_time({}{{{sel}}}[{}]) / {}",
                sli_record(SLI_WINDOWS[0]),
                promql::duration(promql::scaled(slo.window, scale)),
                promql::number(objective.budget()),
            ),
            labels: labels.clone(),
        });
        out.push(Recording {
            record: "slo:objective:ratio".to_owned(),
            expr: format!("vector({})", promql::number(objective.target / 100.0)),
            labels,
        });
    }
    out
}

/// The selector of one objective's recorded SLI over `window`.
fn sli(identity: &ServiceIdentity, objective: &Objective<'_>, window: Duration) -> String {
    format!(
        "{}{{service={},slo=\"{}\",rpc_method={}}}",
        sli_record(window),
        promql::string(&identity.name),
        objective.kind.label(),
        promql::string(objective.method.unwrap_or("")),
    )
}

fn human(d: Duration) -> String {
    fn unit(n: u64, one: &str) -> String {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    }
    let secs = d.as_secs();
    if secs >= 86_400 && secs.is_multiple_of(86_400) {
        unit(secs / 86_400, "day")
    } else if secs >= 86_400 {
        format!("{:.1} days", d.as_secs_f64() / 86_400.0)
    } else if secs >= 3600 && secs.is_multiple_of(3600) {
        unit(secs / 3600, "hour")
    } else if secs >= 3600 {
        format!("{:.1} hours", d.as_secs_f64() / 3600.0)
    } else {
        unit(secs / 60, "minute")
    }
}

/// The template text of how long the whole error budget lasts at the
/// current burn rate: the window divided by the burn rate (the error ratio
/// over the tier's long window, the alert's `$value`, over the budget), so
/// `window × budget / ratio`. Alert templates have no arithmetic: the
/// division is a query, quoted as a Go template string.
fn exhaustion(
    identity: &ServiceIdentity,
    objective: &Objective<'_>,
    tier: Tier,
    window: Duration,
) -> String {
    let query = format!(
        "{} * {} / {}",
        window.as_secs(),
        promql::number(objective.budget()),
        sli(identity, objective, tier.long_window()),
    );
    format!(
        "{{{{ with query {} }}}}{{{{ . | first | value | humanizeDuration }}}}{{{{ end }}}}",
        promql::string(&query)
    )
}

/// The name of the burn-rate alert of `kind` and `tier`.
pub(crate) fn burn_alert_name(kind: Kind, tier: Tier) -> String {
    format!("{}{}", kind.title(), tier.suffix())
}

fn burn_alerts(slo: &SloSettings, identity: &ServiceIdentity) -> Vec<Alert> {
    let mut out = Vec::new();
    for objective in objectives(slo) {
        let what = match (objective.kind, objective.method) {
            (Kind::Availability, None) => "calls ending in a server fault".to_owned(),
            (Kind::Availability, Some(m)) => format!("{m} calls ending in a server fault"),
            (Kind::Latency, None) => format!("calls slower than {}s", objective.threshold),
            (Kind::Latency, Some(m)) => format!("{m} calls slower than {}s", objective.threshold),
        };
        let budget = objective.budget();
        for tier in Tier::ALL {
            let factor = tier.factor(slo.window);
            let threshold = format!("({} * {})", promql::number(factor), promql::number(budget));
            let expr = format!(
                "{} > {threshold} and {} > {threshold}",
                sli(identity, &objective, tier.long_window()),
                sli(identity, &objective, tier.short_window()),
            );
            // At 1x the budget lasts exactly the window: not "too fast",
            // but nothing is left over.
            let summary = if factor > 1.0 {
                format!(
                    "{}: {what} are using up the {} error budget {}x too fast",
                    identity.name,
                    objective.kind.label(),
                    promql::number(factor),
                )
            } else {
                format!(
                    "{}: {what} are on course to use up the whole {} error budget within {}",
                    identity.name,
                    objective.kind.label(),
                    human(slo.window),
                )
            };
            let description = format!(
                "Over the last {}, {{{{ $value | humanizePercentage }}}} of {what} (still over \
                 the last {}); the objective allows {}% over {}. At this rate the whole error \
                 budget is gone in {}.",
                human(tier.long_window()),
                human(tier.short_window()),
                promql::number(100.0 - objective.target),
                human(slo.window),
                exhaustion(identity, &objective, tier, slo.window),
            );
            let mut labels = vec![("slo", objective.kind.label().to_owned())];
            if let Some(method) = objective.method {
                labels.push(("rpc_method", method.to_owned()));
            }
            out.push(Alert {
                name: burn_alert_name(objective.kind, tier),
                severity: tier.severity(),
                labels,
                expr,
                for_duration: Some(tier.for_duration()),
                summary,
                description,
                guide: burn_guide(objective.kind, tier, slo),
            });
        }
    }
    out
}

fn burn_guide(kind: Kind, tier: Tier, slo: &SloSettings) -> Guide {
    let factor = promql::number(tier.factor(slo.window));
    let meaning = match kind {
        Kind::Availability => format!(
            "Calls are ending in a server fault (gRPC {}, or HTTP 5xx) {factor} times as fast as \
             the availability objective allows: {}% of the {} error budget spent in {} if it \
             goes on. The label `rpc_method` is set when the objective is one method's.",
            SERVER_FAULT_CODES.join(", "),
            promql::number(tier.budget_spent() * 100.0),
            human(slo.window),
            human(tier.long_window()),
        ),
        Kind::Latency => format!(
            "Calls are slower than the latency objective's threshold {factor} times as often as \
             it allows: {}% of the {} error budget spent in {} if it goes on. The label \
             `rpc_method` is set when the objective is one method's.",
            promql::number(tier.budget_spent() * 100.0),
            human(slo.window),
            human(tier.long_window()),
        ),
    };
    let mut check = vec![
        "Is every instance up and ready? `curl -sS {admin}/health/ready` on each (a `503` names the failing check).".to_owned(),
        "Which methods and codes? `curl -sS {admin}/metrics | grep -E '^(rpc|http)_server_.*_count'` (gRPC `rpc_status_code`, HTTP `http_response_status_code`).".to_owned(),
        "Are upstreams failing? `curl -sS {admin}/metrics | grep -E '^(rpc_client_(attempts|endpoints|retry_budget)|http_client_(request_duration_seconds_count|retries|ejections))'`: gRPC attempts by `outcome`, HTTP requests by status, ejected endpoints, retries refused.".to_owned(),
        "Did something change? A deploy (`curl -sS {admin}/info`: version, start time), a switch (`curl -sS {admin}/flags`, `curl -sS {admin}/audit`), the configuration (`curl -sS {admin}/config`).".to_owned(),
    ];
    if kind == Kind::Latency {
        check.push("Is the process starved? `curl -sS {admin}/metrics | grep -E '^(process_cpu|process_resident|tokio_runtime)'`.".to_owned());
    }
    let act = match kind {
        Kind::Availability => vec![
            "One instance bad (its `/health/ready` answers `503`, or the errors carry one `instance`): restart it; the others take its calls.".to_owned(),
            "An upstream failing (its client's attempts end in `UNAVAILABLE` or `DEADLINE_EXCEEDED`): turn off the switch that calls it, if one is listed below: the feature goes, the errors stop. Tell the upstream's owners.".to_owned(),
            "Calls refused under load (`RESOURCE_EXHAUSTED`, HTTP `503`: see [LoadShedding](#loadshedding)): scale out.".to_owned(),
            "Errors since a deploy (`/info`: version, start time) or a switch change (`/audit`): undo the switch change yourself; a rollback of the deploy is the owning team's call — escalate with the version.".to_owned(),
        ],
        Kind::Latency => vec![
            "An upstream slow (its client's `rpc_client_call_duration_seconds` p99 near the client's `timeout`): turn off the switch that calls it, if one is listed below: the service answers without it, fast.".to_owned(),
            "The process starved (CPU rate near its limit, `tokio_runtime_busy_seconds_total` rate near the worker count): scale out; a restart does not help.".to_owned(),
            "Keep the log level at `info`: debug logging slows a loaded service further.".to_owned(),
            "Timeouts and limits (`<client>.timeout`, `grpc.server.concurrency_limit`) are configuration: escalate to change them.".to_owned(),
        ],
    };
    Guide {
        meaning,
        check,
        act,
        switches: true,
    }
}

fn kit_alerts(slo: &SloSettings, identity: &ServiceIdentity, scale: f64) -> Vec<Alert> {
    let job = slo.job_or(&identity.name);
    let j = promql::string(job);
    let name = &identity.name;
    let range = |d: Duration| promql::duration(promql::scaled(d, scale));
    let scope = Scope { job, method: None };
    let mut out = vec![
        Alert {
            name: "ServiceDown".to_owned(),
            severity: "page",
            labels: Vec::new(),
            expr: format!("sum(up{{job={j}}}) == 0"),
            for_duration: Some(3 * MINUTE),
            summary: format!("{name}: no instance can be scraped"),
            description: format!(
                "Prometheus has {{{{ with query {} }}}}{{{{ . | first | value }}}}{{{{ end }}}} \
                 targets for job {job} and scraped none of them for 3 minutes (instances up: \
                 {{{{ $value }}}}). The SLO alerts \
                 cannot see an outage without metrics: this one pages instead.",
                promql::string(&format!("count(up{{job={j}}})"))
            ),
            guide: Guide {
                meaning: "Prometheus knows the service's instances but none answers its scrape: the service is down or unreachable. The burn-rate alerts see no calls then, so this one stands in for them.".to_owned(),
                check: vec![
                    "Are the processes running? Your orchestrator's view (`kubectl get pods`, `systemctl status`), and the last log lines of a failed one.".to_owned(),
                    "Does an instance answer? `curl -sS {admin}/health/live` and `curl -sS {admin}/metrics | head`.".to_owned(),
                    "Prometheus' Targets page for the job: the scrape error of each target (refused, timeout, TLS).".to_owned(),
                ],
                act: vec![
                    "Start or restart the instances (`kubectl rollout restart`, `systemctl restart`).".to_owned(),
                    "They exit at start with code 2: the first log line names the configuration key and layer at fault; undo that configuration change if it is yours (see `/audit` of a healthy environment), else escalate.".to_owned(),
                    "They crash since a deploy: escalate for a rollback, with the version (`/info` of a running instance, or the image tag).".to_owned(),
                ],
                switches: false,
            },
        },
        Alert {
            name: "ServiceNotScraped".to_owned(),
            severity: "page",
            labels: Vec::new(),
            expr: format!("absent(up{{job={j}}})"),
            for_duration: Some(3 * MINUTE),
            summary: format!("{name}: Prometheus has no target for job {job}"),
            description: format!(
                "Prometheus has had no scrape target for job {job} for 3 minutes: it does not \
                 watch {name} at all, so neither the SLO alerts nor ServiceDown can fire."
            ),
            guide: Guide {
                meaning: "Prometheus has no target for the service's job at all: the scrape configuration or service discovery lost it (a renamed job, a changed label or namespace), or every instance is gone. No other alert of the service can fire meanwhile.".to_owned(),
                check: vec![
                    "Prometheus' Targets and Service Discovery pages: is the job there, under which name? The rules select `job` = `slo.job`, or the service's name when that is empty.".to_owned(),
                    "Do instances exist? Your orchestrator's view (`kubectl get pods -l …`), and `curl -sS {admin}/health/live` on one.".to_owned(),
                ],
                act: vec![
                    "Instances gone: start them (see [ServiceDown](#servicedown)).".to_owned(),
                    "Instances running but not discovered: nothing to change on the service; the scrape configuration belongs to the monitoring owners — escalate to them, with the job name the rules expect.".to_owned(),
                ],
                switches: false,
            },
        },
        Alert {
            name: "TargetDown".to_owned(),
            severity: "ticket",
            labels: Vec::new(),
            expr: format!("up{{job={j}}} == 0"),
            for_duration: Some(5 * MINUTE),
            summary: format!("{name}: instance {{{{ $labels.instance }}}} cannot be scraped"),
            description: "Prometheus has failed to scrape {{ $labels.instance }} for 5 minutes (up = {{ $value }}).".to_owned(),
            guide: Guide {
                meaning: "One instance does not answer its scrape: it is down, hung, or its admin server is unreachable. The others carry its load.".to_owned(),
                check: vec![
                    "Does it answer? `curl -sS {admin}/health/live` on that instance; `curl -sS {admin}/health/ready`.".to_owned(),
                    "Is it restarting? See RestartLoop; its last log lines.".to_owned(),
                ],
                act: vec![
                    "Restart that instance; the others carry its load meanwhile.".to_owned(),
                    "It fails again after a restart: take it out of rotation (delete the pod, drain the host) and open a ticket with its last log lines.".to_owned(),
                ],
                switches: false,
            },
        },
        Alert {
            name: "RestartLoop".to_owned(),
            severity: "ticket",
            labels: Vec::new(),
            expr: format!(
                "changes({PROCESS_START_TIME_SECONDS}{{job={j}}}[{}]) > 2",
                range(15 * MINUTE)
            ),
            for_duration: None,
            summary: format!("{name}: instance {{{{ $labels.instance }}}} keeps restarting"),
            description: "{{ $labels.instance }} restarted {{ $value }} times in 15 minutes.".to_owned(),
            guide: Guide {
                meaning: "An instance has started more than twice in 15 minutes: it crashes, is killed (out of memory, failed liveness probe), or exits on a configuration error.".to_owned(),
                check: vec![
                    "Its last log lines before each exit: a configuration error names the key and the layer; exit code 2 is configuration.".to_owned(),
                    "Memory: `curl -sS {admin}/metrics | grep process_resident_memory_bytes` against its limit.".to_owned(),
                    "What it runs: `curl -sS {admin}/info` (version) and `curl -sS {admin}/config`.".to_owned(),
                ],
                act: vec![
                    "Do not restart it by hand: it restarts already. Find why in its last log lines first.".to_owned(),
                    "A configuration change started it (exit code 2, `/audit`): undo that change.".to_owned(),
                    "Out of memory (killed, `process_resident_memory_bytes` at its limit): raise the memory limit only if your platform lets on-call do so; else escalate.".to_owned(),
                    "It started with a deploy: escalate for a rollback, with the version.".to_owned(),
                ],
                switches: false,
            },
        },
        Alert {
            name: "LoadShedding".to_owned(),
            severity: "ticket",
            labels: Vec::new(),
            expr: format!("{} > 0.01", scope.shed(&range(5 * MINUTE))),
            for_duration: Some(10 * MINUTE),
            summary: format!("{name}: refusing calls under load"),
            description: "{{ $value | humanizePercentage }} of calls were refused for 10 minutes (gRPC RESOURCE_EXHAUSTED, HTTP 503): the concurrency limits are reached.".to_owned(),
            guide: Guide {
                meaning: "More than 1% of calls are refused at once because the server's concurrency limit (`grpc.server.concurrency_limit`, `http.concurrency_limit`) is reached: more traffic than the instances can take, or calls that got slower (an upstream) hold the slots.".to_owned(),
                check: vec![
                    "In flight: `curl -sS {admin}/metrics | grep rpc_server_in_flight_calls` against the limit in `curl -sS {admin}/config`.".to_owned(),
                    "Slower calls? The latency SLO and `rpc_client_call_duration_seconds` of the upstreams.".to_owned(),
                    "More traffic? The call rate on the dashboard; scale out if it is real.".to_owned(),
                    "Per-key rate limits answer gRPC `RESOURCE_EXHAUSTED` too: `curl -sS {admin}/metrics | grep server_rate_limited_total` counts those refusals (by `bucket`); if they are the share, one caller is over `grpc.server.rate_limit`, not the server over its capacity.".to_owned(),
                ],
                act: vec![
                    "More traffic, and it is real: scale out (more instances); each takes `grpc.server.concurrency_limit` gRPC calls and `http.concurrency_limit` HTTP requests at once.".to_owned(),
                    "Calls got slower (an upstream): the slots are held by waiting calls; turn off the switch that calls that upstream, if one is listed below, to free them.".to_owned(),
                    "The limits themselves (`grpc.server.concurrency_limit`, `grpc.server.adaptive_limit.enabled`, `http.concurrency_limit`) are configuration, sized for the instance's CPU and memory: escalate to change them.".to_owned(),
                ],
                switches: true,
            },
        },
        Alert {
            name: "HeavyLoadShedding".to_owned(),
            severity: "page",
            labels: Vec::new(),
            // The server's own refusals (`rpc_server_shed_total`), not every
            // RESOURCE_EXHAUSTED: a caller over its rate limit must not page.
            expr: format!(
                "sum(rate({RPC_SERVER_SHED_TOTAL}{{job={j}}}[{w}])) \
                 / (sum(rate({RPC_SERVER_CALL_DURATION}_count{{job={j}}}[{w}])) > 0) > 0.05",
                w = range(5 * MINUTE)
            ),
            for_duration: Some(5 * MINUTE),
            summary: format!("{name}: refusing {{{{ $value | humanizePercentage }}}} of gRPC calls under load"),
            description: "{{ $value | humanizePercentage }} of gRPC calls were refused by the server's concurrency limit (load shedding) for 5 minutes. Refused calls are fast, so the latency SLO does not show them, and RESOURCE_EXHAUSTED is not a server fault in the availability SLO: this alert pages instead.".to_owned(),
            guide: Guide {
                meaning: "More than 5% of gRPC calls are refused at once because the concurrency limit (`grpc.server.concurrency_limit`, or the adaptive limit) is reached: callers are being turned away now, whatever the SLOs say. (Per-key rate limits do not count here.)".to_owned(),
                check: vec![
                    "In flight against the limit: `curl -sS {admin}/metrics | grep -E '^rpc_server_(in_flight_calls|concurrency_limit|shed_total)'`.".to_owned(),
                    "Slower calls holding the slots? The latency panels and `curl -sS {admin}/upstreams` (an upstream that hangs keeps calls waiting).".to_owned(),
                    "More traffic? The call rate on the dashboard.".to_owned(),
                ],
                act: vec![
                    "Real extra traffic: scale out now (more instances).".to_owned(),
                    "An upstream holds the slots: turn off the switch that calls it, if one is listed below.".to_owned(),
                    "The limits are configuration, sized for the instance: escalate to change them.".to_owned(),
                ],
                switches: true,
            },
        },
        Alert {
            name: "RetryBudgetExhausted".to_owned(),
            severity: "ticket",
            labels: Vec::new(),
            expr: format!(
                "sum by (client) (rate({RPC_CLIENT_RETRY_BUDGET_EXHAUSTED_TOTAL}{{job={j}}}[{w}])) > 0 \
                 or sum by (client) (rate({HTTP_CLIENT_RETRIES_TOTAL}{{job={j},outcome=\"budget_exhausted\"}}[{w}])) > 0",
                w = range(5 * MINUTE)
            ),
            for_duration: Some(10 * MINUTE),
            summary: format!("{name}: retries to {{{{ $labels.client }}}} refused by the retry budget"),
            description: "The client {{ $labels.client }} wanted to retry {{ $value | humanize }} calls a second but its retry budget was empty, for 10 minutes: its upstream is failing many calls.".to_owned(),
            guide: Guide {
                meaning: "An upstream fails so many calls that the client's retry budget (retries at most a share of calls) is spent: retries are being refused so they do not overload it further. Callers see the upstream's errors.".to_owned(),
                check: vec![
                    "Every client at a glance: `curl -sS {admin}/upstreams` lists each one's endpoints (ejected or not, until when, consecutive failures), its throttle's reject probability and its retry budget left.".to_owned(),
                    "How its calls end (the alert's `client` label): `curl -sS {admin}/metrics | grep 'client=\"<client>\"' | grep -E '^(rpc_client_attempts_total|http_client_request_duration_seconds_count)'` by `outcome`, `endpoint` or HTTP status.".to_owned(),
                    "The upstream's own alerts and dashboard; its owning team.".to_owned(),
                ],
                act: vec![
                    "Tell the upstream's owners: its failures are the cause, the refused retries only protect it.".to_owned(),
                    "Turn off the switch that calls that upstream, if one is listed below: the errors stop, the feature goes.".to_owned(),
                    "Leave the budget alone (`<client>.retry.budget_ratio`, `<client>.retry.budget_min_per_sec`): more retries add load to an upstream that is already failing.".to_owned(),
                ],
                switches: true,
            },
        },
        Alert {
            name: "UpstreamEndpointsEjected".to_owned(),
            severity: "ticket",
            labels: Vec::new(),
            expr: format!(
                "sum by (client) ({RPC_CLIENT_ENDPOINTS}{{job={j},state=\"ejected\"}}) > 0 \
                 or sum by (client) (increase({HTTP_CLIENT_EJECTIONS_TOTAL}{{job={j}}}[{}])) > 0",
                range(10 * MINUTE)
            ),
            for_duration: Some(10 * MINUTE),
            summary: format!("{name}: endpoints of {{{{ $labels.client }}}} taken out of rotation"),
            description: "{{ $value }} endpoints of {{ $labels.client }} have been ejected (outlier detection) for 10 minutes.".to_owned(),
            guide: Guide {
                meaning: "Outlier detection has taken endpoints of an upstream out of rotation for 10 minutes: they fail calls that the others answer. The remaining endpoints carry their load.".to_owned(),
                check: vec![
                    "Every client at a glance: `curl -sS {admin}/upstreams` lists each one's endpoints (ejected or not, until when, consecutive failures), its throttle's reject probability and its retry budget left.".to_owned(),
                    "Which endpoints of that client (the alert's `client` label) and why: `curl -sS {admin}/metrics | grep 'client=\"<client>\"' | grep -E '^(rpc_client_(ejections_total|endpoints|attempts_total)|http_client_ejections_total)'` (`endpoint`, `reason`, `state`, `outcome`).".to_owned(),
                    "Those endpoints' own health; the upstream's owning team.".to_owned(),
                ],
                act: vec![
                    "One endpoint stays ejected: restart that upstream instance (or ask its owners to); the client takes it back by itself once it answers (after `<client>.ejection.base_ejection`, growing to `max_ejection`).".to_owned(),
                    "Many endpoints ejected: the client ejects at most `<client>.ejection.max_ejected_percent` of them and then sends to all (panic mode), so callers see the failures: escalate to the upstream's owners, and turn off the switch that calls it if one is listed below.".to_owned(),
                    "The ejection settings (`<client>.ejection.consecutive_failures`, `success_rate`, `max_ejected_percent`) are configuration: escalate to change them.".to_owned(),
                ],
                switches: true,
            },
        },
        Alert {
            name: "LogLinesDropped".to_owned(),
            severity: "ticket",
            labels: Vec::new(),
            expr: format!(
                "sum by (instance) (rate({LOG_DROPPED_LINES_TOTAL}{{job={j}}}[{}])) > 0",
                range(5 * MINUTE)
            ),
            for_duration: Some(10 * MINUTE),
            summary: format!("{name}: log lines dropped on {{{{ $labels.instance }}}}"),
            description: "{{ $labels.instance }} dropped {{ $value | humanize }} log lines a second for 10 minutes: its log writer cannot keep up.".to_owned(),
            guide: Guide {
                meaning: "The log writer's queue is full, so log lines are dropped instead of blocking calls: stdout is slow (the log collector is behind) or the service logs far more than usual.".to_owned(),
                check: vec![
                    "Which lines are many: the last minute of logs, by `target`; a log level left at debug: `curl -sS {admin}/loglevel`.".to_owned(),
                    "The log collector on the node.".to_owned(),
                ],
                act: vec![
                    "The log level was raised (`/loglevel`, `/audit`): put it back to `info` with the `PUT {admin}/loglevel` command of [Act without escalating](#act).".to_owned(),
                    "The collector is behind: tell its owners; the service keeps serving (dropping lines is how it protects calls).".to_owned(),
                ],
                switches: false,
            },
        },
        Alert {
            name: "CardinalityGuardTripping".to_owned(),
            severity: "ticket",
            labels: Vec::new(),
            expr: format!(
                "sum by (metric) (increase({METRICS_CARDINALITY_OVERFLOW_TOTAL}{{job={j}}}[{}])) > 0",
                range(30 * MINUTE)
            ),
            for_duration: None,
            summary: format!("{name}: metric {{{{ $labels.metric }}}} has too many label sets"),
            description: "{{ $value | humanize }} new label sets of {{ $labels.metric }} were folded into `other` in 30 minutes (metrics.cardinality_limit): its dashboards lose detail.".to_owned(),
            guide: Guide {
                meaning: "A metric has reached `metrics.cardinality_limit` label sets; new ones are folded into a series labelled `other`. Usually a label fed with unbounded values (an id, a raw path) — a bug to fix in code.".to_owned(),
                check: vec![
                    "Its label sets: `curl -sS {admin}/metrics | grep '^<metric>' | head -50`.".to_owned(),
                    "The limit: `curl -sS {admin}/config | grep cardinality_limit`.".to_owned(),
                ],
                act: vec![
                    "Nothing urgent: the guard protects Prometheus, the service is unaffected. Open a ticket for the owning team naming the metric and the label.".to_owned(),
                    "Do not raise `metrics.cardinality_limit`: the fix is in the code that sets the label.".to_owned(),
                ],
                switches: false,
            },
        },
    ];
    for (alert, days, severity) in [
        ("CertificateExpiresSoon", 14, "ticket"),
        ("CertificateExpiryImminent", 3, "page"),
    ] {
        out.push(Alert {
            name: alert.to_owned(),
            severity,
            labels: Vec::new(),
            expr: format!(
                "(min by (role, subject) ({TLS_CERTIFICATE_EXPIRY}{{job={j}}}) - time()) / 86400 < {days}"
            ),
            for_duration: Some(10 * MINUTE),
            summary: format!("{name}: the {{{{ $labels.role }}}} certificate expires in less than {days} days"),
            description: "The certificate {{ $labels.subject }} used as {{ $labels.role }} expires in {{ $value | humanize }} days; after that its connections fail.".to_owned(),
            guide: Guide {
                meaning: format!("A TLS certificate in use expires in less than {days} days and has not been rotated. The kit re-reads changed certificate files by itself: renewing the file is enough, no restart."),
                check: vec![
                    "Which: `curl -sS {admin}/metrics | grep tls_certificate_expiry_timestamp_seconds` (`role`, `subject`).".to_owned(),
                    "Did a rotation fail? `curl -sS {admin}/metrics | grep tls_reload_total` (`outcome=\"error\"`) and the log lines of boost-tls.".to_owned(),
                    "The certificate issuer (cert-manager, your CA) for that subject.".to_owned(),
                ],
                act: vec![
                    "Renew the file: the paths are `cert_file` / `key_file` of the section named by `role` (`curl -sS {admin}/config | grep -B2 -A4 cert_file`); the kit re-reads them by itself, no restart (`tls_reload_total{outcome=\"success\"}` grows).".to_owned(),
                    "A `role` ending in `_ca` is a CA bundle (`ca_file` of that section; `subject` is the CA that expires first): add the CA's successor to the bundle and move peers to certificates it issued; an old CA kept on purpose goes out of the bundle once no peer uses it, and the series moves to the next CA.".to_owned(),
                    "The issuer failed to renew: escalate to the certificate's owners (cert-manager, your CA) with the subject.".to_owned(),
                ],
                switches: false,
            },
        });
    }
    out
}

/// Every alert: burn rates first, then the kit's.
pub(crate) fn alerts(slo: &SloSettings, identity: &ServiceIdentity, scale: f64) -> Vec<Alert> {
    let mut out = burn_alerts(slo, identity);
    out.extend(kit_alerts(slo, identity, scale));
    out
}

/// The anchor of an alert's runbook section: its name in lower case, as
/// GitHub and most Markdown renderers slug the heading `## <Name>`.
pub fn anchor(alert: &str) -> String {
    alert.to_ascii_lowercase()
}
