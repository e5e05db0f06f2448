//! The generated rules file and route, read as text.

use boost_slo::{RulesOptions, SloSettings};

use crate::identity;

fn generate(slo: &SloSettings) -> String {
    boost_slo::rules(
        slo,
        &identity(),
        &RulesOptions::new("http://localhost:8081"),
    )
}

#[test]
fn rules_select_by_the_job_label_defaulting_to_the_service_name() {
    let yaml = generate(&SloSettings::default());
    assert!(yaml.contains(r#"job=\"hello-service\""#), "{yaml}");
    let mut slo = SloSettings::default();
    slo.job = "hello".into();
    let yaml = generate(&slo);
    assert!(yaml.contains(r#"job=\"hello\""#), "{yaml}");
    assert!(!yaml.contains(r#"job=\"hello-service\""#), "{yaml}");
    assert!(!yaml.contains("service_name="), "{yaml}");
}

#[test]
fn every_alert_has_service_team_severity_and_the_four_annotations() {
    let yaml = generate(&SloSettings::default());
    let alerts = yaml.matches("      - alert: ").count();
    assert_eq!(
        alerts,
        boost_slo::alert_names(&SloSettings::default(), &identity()).len()
    );
    for block in yaml.split("      - alert: ").skip(1) {
        // ServiceNotScraped fires on an absence: there is no value to show.
        let value = if block.starts_with("\"ServiceNotScraped\"") {
            "description: \"Prometheus has had no scrape target"
        } else {
            "{{ $value"
        };
        for key in [
            value,
            "          service: \"hello-service\"",
            "          team: \"greetings\"",
            "          summary: ",
            "          description: ",
            "          runbook_url: \"http://localhost:8081/runbook#",
            "          dashboard: \"/d/boost-hello-service\"",
        ] {
            assert!(block.contains(key), "{key}\n{block}");
        }
    }
    let severities = yaml.matches("          severity: \"page\"").count()
        + yaml.matches("          severity: \"ticket\"").count();
    assert_eq!(severities, alerts);
}

#[test]
fn the_service_runbook_url_replaces_the_admin_one_keeping_the_anchor() {
    let mut id = identity();
    id.runbook_url = "https://wiki.example.com/hello#old".into();
    let yaml = boost_slo::rules(
        &SloSettings::default(),
        &id,
        &RulesOptions::new("http://localhost:8081"),
    );
    assert!(
        yaml.contains("runbook_url: \"https://wiki.example.com/hello#latencyfastburn\""),
        "{yaml}"
    );
}

#[test]
fn burn_factors_scale_with_the_window() {
    let yaml = generate(&SloSettings::default());
    assert!(yaml.contains("> (14.4 * 0.001)"), "{yaml}");
    assert!(yaml.contains("> (6 * 0.01)"), "{yaml}");
    assert!(yaml.contains("> (1 * 0.001)"), "{yaml}");
    let mut slo = SloSettings::default();
    slo.window = std::time::Duration::from_secs(28 * 86_400);
    let yaml = generate(&slo);
    assert!(yaml.contains("> (13.44 * 0.001)"), "{yaml}");
}

#[test]
fn the_time_scale_shortens_windows_and_for_durations_but_not_rule_names() {
    let slo = SloSettings::default();
    let yaml = boost_slo::rules(
        &slo,
        &identity(),
        &RulesOptions::new("http://localhost:8081").time_scale(1.0 / 60.0),
    );
    assert!(
        yaml.contains("record: \"slo:sli_error:ratio_rate1h\""),
        "{yaml}"
    );
    assert!(yaml.contains("[1m]))"), "{yaml}");
    assert!(yaml.contains("[5s]))"), "{yaml}");
    assert!(!yaml.contains("[1h]"), "{yaml}");
    assert!(yaml.contains("for: 2s"), "{yaml}");
    assert!(yaml.contains("interval: 1s"), "{yaml}");
}

#[test]
fn per_method_objectives_get_their_own_rules_and_alerts() {
    let slo: SloSettings = toml::from_str(
        r#"
        [methods."hello.v1.Greeter/SayHello".latency]
        target = 99.5
        threshold = 0.1
        "#,
    )
    .unwrap();
    let yaml = generate(&slo);
    assert!(
        yaml.contains(r#"rpc_method=\"hello.v1.Greeter/SayHello\""#),
        "{yaml}"
    );
    assert!(
        yaml.contains("rpc_method: \"hello.v1.Greeter/SayHello\""),
        "{yaml}"
    );
    assert!(yaml.contains("> (14.4 * 0.005)"), "{yaml}");
}

#[test]
fn disabled_objectives_have_no_rules() {
    let mut slo = SloSettings::default();
    slo.latency.enabled = false;
    let yaml = generate(&slo);
    assert!(!yaml.contains("Latency"), "{yaml}");
    assert!(!yaml.contains("slo: \"latency\""), "{yaml}");
}

#[test]
fn the_route_sends_the_team_pages_and_tickets_to_their_receivers() {
    let route = boost_slo::alertmanager_route(&identity());
    assert!(
        route.contains(r#"matchers: ["team=\"greetings\""]"#),
        "{route}"
    );
    assert!(route.contains(r#"- receiver: "greetings-page""#), "{route}");
    assert!(
        route.contains(r#"matchers: ["severity=\"page\""]"#),
        "{route}"
    );
    assert!(route.contains(r#"- name: "greetings-ticket""#), "{route}");
}
