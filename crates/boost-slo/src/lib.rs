//! SLOs in config, and what on-call needs generated from them: Prometheus
//! recording and alerting rules, an Alertmanager route, a runbook.
//!
//! A service's `[slo]` section ([`SloSettings`]) states its objectives:
//! availability (the share of calls not ending in a server fault) and
//! latency (the share answered within a threshold that is a histogram
//! bucket bound), service-wide and optionally per gRPC method, over a window
//! (30 days by default). The kit's metrics have fixed names
//! (`boost_metrics::conventions`), so the rules can be written for any
//! service without asking it anything else:
//!
//! ```
//! use boost_config::ServiceIdentity;
//! use boost_slo::{RulesOptions, SloSettings};
//!
//! let mut identity = ServiceIdentity::new("hello-service", "1.0.0");
//! identity.team = "greetings".into();
//! let slo = SloSettings::default(); // 99.9 % available, 99 % within 250 ms, 30 days
//! let rules = boost_slo::rules(&slo, &identity, &RulesOptions::new("http://localhost:8081"));
//! assert!(rules.contains("record: \"slo:sli_error:ratio_rate5m\""));
//! assert!(rules.contains("alert: \"LatencySlowBurn\""));
//! assert!(rules.contains("team: \"greetings\""));
//! ```
//!
//! # The alerts
//!
//! Per objective, the multi-window multi-burn-rate alerts of the SRE
//! workbook ([`Tier`]): **page** when the error ratio over 1 hour *and* over
//! 5 minutes is above 14.4 times the budget (`…FastBurn`), **page** at 6
//! times over 6 hours and 30 minutes (`…SlowBurn`), **ticket** at 1 times
//! over 3 days and 6 hours (`…SteadyBurn`). The factors are for a 30-day
//! window and scale with [`SloSettings::window`]. The SLIs are recording
//! rules `slo:sli_error:ratio_rate<window>{service, slo, rpc_method}`.
//!
//! Then the kit's own: `ServiceDown` and `ServiceNotScraped` (pages),
//! `TargetDown`, `RestartLoop`,
//! `LoadShedding`, `RetryBudgetExhausted`, `UpstreamEndpointsEjected`,
//! `LogLinesDropped`, `CardinalityGuardTripping`, `CertificateExpiresSoon`
//! (tickets) and `CertificateExpiryImminent` (page).
//!
//! Every alert carries the labels `service`, `team`, `severity` (`page` or
//! `ticket`; route on them with [`alertmanager_route`]) and the annotations
//! `summary`, `description` (with the current value), `runbook_url` (its own
//! section of the runbook: [`runbook_url`]) and `dashboard`.
//!
//! # The dashboard
//!
//! [`dashboard`] writes the Grafana dashboard JSON the alerts' `dashboard`
//! annotation points at: error budget left and burn rates per objective, RED
//! per method, upstream clients, caches, process and runtime.
//!
//! # The runbook
//!
//! [`runbook`] writes the Markdown on-call opens from an alert: how to look
//! at the service (the admin server's endpoints, as `curl` commands), what a
//! level-2 operator may do without escalating (its runtime switches, with the
//! authenticated `PUT /flags/<name>` command, the token sent as
//! [`AdminToken`] says), whom to escalate to, and one section per alert,
//! anchored as the alert's `runbook_url` says, with what to check and what
//! may be done about that alert. The team's own text is merged in from a file.
//!
//! # Testing the rules
//!
//! [`RulesOptions::time_scale`] shortens every window and `for` so a test
//! against a real Prometheus sees the alerts fire in seconds; services take
//! it as `--slo-time-scale <factor>` beside `--print-alert-rules`
//! ([`RulesOptions::parse_time_scale`]).
#![deny(missing_docs)]

mod alerts;
mod burn;
mod dashboard;
mod inhibit;
mod promql;
mod rules;
mod runbook;
mod settings;
mod yaml;

pub use alerts::anchor;
pub use burn::{SLI_WINDOWS, Tier};
pub use dashboard::{GRAFANA_SCHEMA_VERSION, dashboard, dashboard_queries};
pub use rules::{
    MIN_TIME_SCALE, RulesOptions, TimeScaleError, alert_names, alertmanager_route, dashboard_uid,
    dashboard_url, rules, runbook_url,
};
pub use runbook::{AdminToken, MAX_RUNBOOK_EXTRA, RunbookInputs, RunbookSwitch, runbook};
pub use settings::{
    AvailabilityObjective, LatencyObjective, MAX_METHODS, MethodObjectives, SERVER_FAULT_CODES,
    SloSettings, lowest_target,
};
