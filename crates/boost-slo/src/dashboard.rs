//! The Grafana dashboard of a service: SLOs and error budget, RED per
//! method, upstream clients, caches, process and runtime.

use std::fmt::Write as _;

use boost_config::ServiceIdentity;
use boost_metrics::conventions::{
    HTTP_CLIENT_EJECTIONS_TOTAL, HTTP_CLIENT_REQUEST_DURATION, HTTP_CLIENT_RETRIES_TOTAL,
};

use crate::alerts::{Kind, objectives};
use crate::promql;
use crate::rules::dashboard_uid;
use crate::settings::SloSettings;

/// Grafana's dashboard JSON schema version the output follows: 42, the
/// latest (and final) version of the classic dashboard JSON model that
/// Grafana 12 and 13 write and import (newer Grafana evolves the model as
/// the v2 resource instead; older versions back to Grafana 11 migrate
/// nothing they do not know).
pub const GRAFANA_SCHEMA_VERSION: u32 = 42;

/// A JSON string.
fn json(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One panel: a title, a kind, a unit, its queries (expression, legend).
struct Panel {
    title: String,
    kind: &'static str,
    unit: &'static str,
    queries: Vec<(String, String)>,
}

fn panel(title: impl Into<String>, kind: &'static str, unit: &'static str) -> Panel {
    Panel {
        title: title.into(),
        kind,
        unit,
        queries: Vec::new(),
    }
}

impl Panel {
    fn query(mut self, expr: impl Into<String>, legend: impl Into<String>) -> Self {
        self.queries.push((expr.into(), legend.into()));
        self
    }
}

/// Rows of panels.
fn rows(slo: &SloSettings, identity: &ServiceIdentity) -> Vec<(String, Vec<Panel>)> {
    let j = format!("job={}", promql::string(slo.job_or(&identity.name)));
    let s = promql::string(&identity.name);
    let mut out = Vec::new();

    let mut slos = Vec::new();
    for objective in objectives(slo) {
        let what = match (objective.kind, objective.method) {
            (Kind::Availability, None) => "Availability".to_owned(),
            (Kind::Latency, None) => format!("Latency < {}s", objective.threshold),
            (Kind::Availability, Some(m)) => format!("{m} availability"),
            (Kind::Latency, Some(m)) => format!("{m} latency < {}s", objective.threshold),
        };
        let sel = format!(
            "service={s},slo=\"{}\",rpc_method={}",
            objective.kind.label(),
            promql::string(objective.method.unwrap_or(""))
        );
        slos.push(
            panel(
                format!(
                    "{what}: error budget left ({}% objective)",
                    promql::number(objective.target)
                ),
                "stat",
                "percentunit",
            )
            .query(
                format!("slo:error_budget:remaining_ratio{{{sel}}}"),
                "budget left",
            ),
        );
        slos.push(
            panel(format!("{what}: burn rate"), "timeseries", "none")
                .query(
                    format!(
                        "slo:sli_error:ratio_rate1h{{{sel}}} / {}",
                        promql::number(objective.budget())
                    ),
                    "1h",
                )
                .query(
                    format!(
                        "slo:sli_error:ratio_rate6h{{{sel}}} / {}",
                        promql::number(objective.budget())
                    ),
                    "6h",
                ),
        );
    }
    out.push(("SLOs".to_owned(), slos));

    out.push((
        "Requests, errors, duration".to_owned(),
        vec![
            panel("gRPC calls by method", "timeseries", "reqps").query(
                format!("sum by (rpc_method) (rate(rpc_server_call_duration_seconds_count{{{j}}}[5m]))"),
                "{{rpc_method}}",
            ),
            panel("gRPC calls not OK, by method and code", "timeseries", "reqps").query(
                format!("sum by (rpc_method, rpc_status_code) (rate(rpc_server_call_duration_seconds_count{{{j},rpc_status_code!=\"OK\"}}[5m]))"),
                "{{rpc_method}} {{rpc_status_code}}",
            ),
            panel("gRPC duration p50 / p99 by method", "timeseries", "s")
                .query(
                    format!("histogram_quantile(0.5, sum by (le, rpc_method) (rate(rpc_server_call_duration_seconds_bucket{{{j}}}[5m])))"),
                    "p50 {{rpc_method}}",
                )
                .query(
                    format!("histogram_quantile(0.99, sum by (le, rpc_method) (rate(rpc_server_call_duration_seconds_bucket{{{j}}}[5m])))"),
                    "p99 {{rpc_method}}",
                ),
            panel("gRPC calls in flight", "timeseries", "none").query(
                format!("sum by (rpc_method) (rpc_server_in_flight_calls{{{j}}})"),
                "{{rpc_method}}",
            ),
            panel("HTTP requests by route and status", "timeseries", "reqps").query(
                format!("sum by (http_route, http_response_status_code) (rate(http_server_request_duration_seconds_count{{{j}}}[5m]))"),
                "{{http_route}} {{http_response_status_code}}",
            ),
            panel("HTTP duration p99 by route", "timeseries", "s").query(
                format!("histogram_quantile(0.99, sum by (le, http_route) (rate(http_server_request_duration_seconds_bucket{{{j}}}[5m])))"),
                "p99 {{http_route}}",
            ),
        ],
    ));

    out.push((
        "Upstream clients".to_owned(),
        vec![
            panel("Attempts by client and outcome", "timeseries", "reqps").query(
                format!("sum by (client, outcome) (rate(rpc_client_attempts_total{{{j}}}[5m]))"),
                "{{client}} {{outcome}}",
            ),
            panel("Retries and retries refused by the budget", "timeseries", "reqps")
                .query(
                    format!("sum by (client) (rate(rpc_client_retries_total{{{j}}}[5m]))"),
                    "{{client}} retries",
                )
                .query(
                    format!("sum by (client) (rate(rpc_client_retry_budget_exhausted_total{{{j}}}[5m]))"),
                    "{{client}} refused",
                ),
            panel("Endpoints by state", "timeseries", "none").query(
                format!("sum by (client, state) (rpc_client_endpoints{{{j}}})"),
                "{{client}} {{state}}",
            ),
            panel("Ejections", "timeseries", "none").query(
                format!("sum by (client, reason) (increase(rpc_client_ejections_total{{{j}}}[5m]))"),
                "{{client}} {{reason}}",
            ),
            panel("Client call duration p99", "timeseries", "s").query(
                format!("histogram_quantile(0.99, sum by (le, client) (rate(rpc_client_call_duration_seconds_bucket{{{j}}}[5m])))"),
                "p99 {{client}}",
            ),
            panel("HTTP client requests by client and status", "timeseries", "reqps").query(
                format!("sum by (client, http_response_status_code, error_type) (rate({HTTP_CLIENT_REQUEST_DURATION}_count{{{j}}}[5m]))"),
                "{{client}} {{http_response_status_code}}{{error_type}}",
            ),
            panel("HTTP client retries by outcome (sent, refused by the budget)", "timeseries", "reqps").query(
                format!("sum by (client, outcome) (rate({HTTP_CLIENT_RETRIES_TOTAL}{{{j}}}[5m]))"),
                "{{client}} {{outcome}}",
            ),
            panel("HTTP client ejections", "timeseries", "none").query(
                format!("sum by (client, endpoint) (increase({HTTP_CLIENT_EJECTIONS_TOTAL}{{{j}}}[5m]))"),
                "{{client}} {{endpoint}}",
            ),
            panel("HTTP client request duration p99", "timeseries", "s").query(
                format!("histogram_quantile(0.99, sum by (le, client) (rate({HTTP_CLIENT_REQUEST_DURATION}_bucket{{{j}}}[5m])))"),
                "p99 {{client}}",
            ),
        ],
    ));

    out.push((
        "Caches".to_owned(),
        vec![
            panel("Hit ratio", "timeseries", "percentunit").query(
                format!("sum by (cache) (rate(cache_requests_total{{{j},tier=\"l1\",result=\"hit\"}}[5m])) / sum by (cache) (rate(cache_requests_total{{{j},tier=\"l1\"}}[5m]))"),
                "{{cache}}",
            ),
            panel("Loads by outcome", "timeseries", "ops").query(
                format!("sum by (cache, outcome) (rate(cache_loads_total{{{j}}}[5m]))"),
                "{{cache}} {{outcome}}",
            ),
            panel("Evictions by cause", "timeseries", "ops").query(
                format!("sum by (cache, cause) (rate(cache_evictions_total{{{j}}}[5m]))"),
                "{{cache}} {{cause}}",
            ),
            panel("Entries and bytes", "timeseries", "none")
                .query(format!("sum by (cache) (cache_entries{{{j}}})"), "{{cache}} entries")
                .query(format!("sum by (cache) (cache_bytes{{{j}}})"), "{{cache}} bytes"),
        ],
    ));

    out.push((
        "Process and runtime".to_owned(),
        vec![
            panel("CPU", "timeseries", "percentunit").query(
                format!("rate(process_cpu_seconds_total{{{j}}}[5m])"),
                "{{instance}}",
            ),
            panel("Resident memory", "timeseries", "bytes").query(
                format!("process_resident_memory_bytes{{{j}}}"),
                "{{instance}}",
            ),
            panel("Open file descriptors", "timeseries", "none")
                .query(format!("process_open_fds{{{j}}}"), "{{instance}} open")
                .query(format!("process_max_fds{{{j}}}"), "{{instance}} max"),
            panel("Tokio workers busy", "timeseries", "percentunit").query(
                format!("rate(tokio_runtime_busy_seconds_total{{{j}}}[5m]) / tokio_runtime_workers{{{j}}}"),
                "{{instance}}",
            ),
            panel("Tokio tasks and queue", "timeseries", "none")
                .query(format!("tokio_runtime_alive_tasks{{{j}}}"), "{{instance}} alive")
                .query(
                    format!("tokio_runtime_global_queue_depth{{{j}}}"),
                    "{{instance}} queued",
                ),
            panel("Uptime", "stat", "s").query(
                format!("time() - process_start_time_seconds{{{j}}}"),
                "{{instance}}",
            ),
        ],
    ));
    out
}

/// Every query of the dashboard, in order: for tests that run them. A panel
/// of a counter that only exists once something happened (errors, retries,
/// ejections, evictions) or of a client the service does not have (the
/// `http_client_*` panels of a service without an HTTP client) shows "No
/// data" until then: nothing is padded with `or vector(0)`, so an empty
/// panel is never mistaken for a zero rate.
pub fn dashboard_queries(slo: &SloSettings, identity: &ServiceIdentity) -> Vec<String> {
    rows(slo, identity)
        .into_iter()
        .flat_map(|(_, panels)| panels)
        .flat_map(|p| p.queries.into_iter().map(|(expr, _)| expr))
        .collect()
}

/// The Grafana dashboard (JSON, schema [`GRAFANA_SCHEMA_VERSION`]) of a
/// service, uid [`dashboard_uid`]: error budget left and burn rates of every
/// objective, RED per method, upstream clients (gRPC: attempts, retries,
/// budget, endpoints, ejections, latency; HTTP: requests by status, retries
/// by outcome, ejections, latency), caches (hit ratio, loads, evictions,
/// size), process and runtime. A `datasource` variable picks the Prometheus.
/// The error budget panels read the `slo:error_budget:remaining_ratio`
/// recording rule of [`rules`](crate::rules).
pub fn dashboard(slo: &SloSettings, identity: &ServiceIdentity) -> String {
    let mut panels = Vec::new();
    let mut id = 0u32;
    let mut y = 0u32;
    for (row, list) in rows(slo, identity) {
        id += 1;
        panels.push(format!(
            "{{\"type\": \"row\", \"id\": {id}, \"title\": {}, \"collapsed\": false, \"gridPos\": {{\"h\": 1, \"w\": 24, \"x\": 0, \"y\": {y}}}, \"panels\": []}}",
            json(&row)
        ));
        y += 1;
        for (index, p) in list.into_iter().enumerate() {
            id += 1;
            let x = (index % 3) as u32 * 8;
            if index > 0 && index % 3 == 0 {
                y += 8;
            }
            let targets: Vec<String> = p
                .queries
                .iter()
                .enumerate()
                .map(|(i, (expr, legend))| {
                    format!(
                        "{{\"refId\": \"{}\", \"datasource\": {{\"type\": \"prometheus\", \"uid\": \"${{datasource}}\"}}, \"expr\": {}, \"legendFormat\": {}}}",
                        char::from(b'A' + (i as u8 % 26)),
                        json(expr),
                        json(legend)
                    )
                })
                .collect();
            panels.push(format!(
                "{{\"type\": \"{}\", \"id\": {id}, \"title\": {}, \"datasource\": {{\"type\": \"prometheus\", \"uid\": \"${{datasource}}\"}}, \"gridPos\": {{\"h\": 8, \"w\": 8, \"x\": {x}, \"y\": {y}}}, \"fieldConfig\": {{\"defaults\": {{\"unit\": \"{}\"}}, \"overrides\": []}}, \"options\": {{}}, \"targets\": [{}]}}",
                p.kind,
                json(&p.title),
                p.unit,
                targets.join(", ")
            ));
        }
        y += 8;
    }
    format!(
        "{{\n  \"uid\": {uid},\n  \"title\": {title},\n  \"tags\": [\"boost\", {team}],\n  \"schemaVersion\": {GRAFANA_SCHEMA_VERSION},\n  \"version\": 1,\n  \"editable\": true,\n  \"timezone\": \"utc\",\n  \"refresh\": \"1m\",\n  \"time\": {{\"from\": \"now-6h\", \"to\": \"now\"}},\n  \"templating\": {{\"list\": [{{\"name\": \"datasource\", \"type\": \"datasource\", \"query\": \"prometheus\", \"label\": \"Prometheus\"}}]}},\n  \"annotations\": {{\"list\": []}},\n  \"panels\": [\n    {panels}\n  ]\n}}\n",
        uid = json(&dashboard_uid(identity)),
        title = json(&format!("{} (generated)", identity.name)),
        team = json(&identity.team),
        panels = panels.join(",\n    "),
    )
}
