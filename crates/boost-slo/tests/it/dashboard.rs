//! The generated Grafana dashboard: valid JSON, every query valid PromQL.

use std::fmt::Write as _;

use boost_slo::SloSettings;
use serde_json::Value;

use crate::identity;

fn per_method() -> SloSettings {
    toml::from_str(
        "[methods.\"hello.v1.Greeter/SayHello\".latency]\ntarget = 99.5\nthreshold = 0.5\n",
    )
    .unwrap()
}

#[test]
fn the_dashboard_is_grafana_json_with_the_uid_the_alerts_link_to() {
    let text = boost_slo::dashboard(&per_method(), &identity());
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(dashboard["uid"], "boost-hello-service");
    assert_eq!(
        format!("/d/{}", dashboard["uid"].as_str().unwrap()),
        boost_slo::dashboard_url(&SloSettings::default(), &identity())
    );
    assert_eq!(
        dashboard["schemaVersion"],
        boost_slo::GRAFANA_SCHEMA_VERSION
    );
    let panels = dashboard["panels"].as_array().unwrap();
    let mut ids: Vec<u64> = panels.iter().map(|p| p["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    let rows: Vec<&str> = panels
        .iter()
        .filter(|p| p["type"] == "row")
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        rows,
        [
            "SLOs",
            "Requests, errors, duration",
            "Upstream clients",
            "Caches",
            "Process and runtime"
        ]
    );
    let queries = panels
        .iter()
        .filter(|p| p["type"] != "row")
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .count();
    assert_eq!(
        queries,
        boost_slo::dashboard_queries(&per_method(), &identity()).len()
    );
    // Three objectives: budget left and burn rate each.
    assert_eq!(
        text.matches("slo:error_budget:remaining_ratio{").count(),
        3,
        "{text}"
    );
}

#[test]
#[ignore = "needs promtool"]
fn every_dashboard_query_is_valid_promql() {
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, query) in boost_slo::dashboard_queries(&per_method(), &identity())
        .iter()
        .enumerate()
    {
        let _ = writeln!(
            rules,
            "      - record: dashboard:query{i}\n        expr: {}",
            serde_json::to_string(query).unwrap()
        );
    }
    crate::promtool::check_rules(&rules);
}

#[test]
fn the_upstream_clients_row_has_the_http_client_metrics_and_no_query_is_padded() {
    use boost_metrics::conventions::{
        HTTP_CLIENT_EJECTIONS_TOTAL, HTTP_CLIENT_REQUEST_DURATION, HTTP_CLIENT_RETRIES_TOTAL,
    };
    let text = boost_slo::dashboard(&SloSettings::default(), &identity());
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(dashboard["schemaVersion"], 42);
    let panels = dashboard["panels"].as_array().unwrap();
    let mut row = "";
    let mut upstream = Vec::new();
    for panel in panels {
        if panel["type"] == "row" {
            row = panel["title"].as_str().unwrap();
            continue;
        }
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            // A padded query shows 0 for a series that does not exist, and
            // can never fail a "returns data" check.
            assert!(!expr.contains("vector(0)"), "{expr}");
            if row == "Upstream clients" {
                upstream.push(expr.to_owned());
            }
        }
    }
    for metric in [
        format!("{HTTP_CLIENT_REQUEST_DURATION}_count"),
        format!("{HTTP_CLIENT_REQUEST_DURATION}_bucket"),
        HTTP_CLIENT_RETRIES_TOTAL.to_owned(),
        HTTP_CLIENT_EJECTIONS_TOTAL.to_owned(),
    ] {
        assert!(
            upstream
                .iter()
                .any(|expr| expr.contains(&format!("{metric}{{"))),
            "no upstream clients panel reads {metric}: {upstream:#?}"
        );
    }
}
