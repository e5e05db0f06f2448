//! `service_info` carries the service's identity and ownership as labels.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use boost_config::ServiceIdentity;
use boost_metrics::{MetricsHandle, MetricsSettings};

fn service_info_line(scrape: &str) -> &str {
    scrape
        .lines()
        .find(|line| line.starts_with("service_info{"))
        .expect("a service_info series")
}

#[test]
fn service_info_labels_come_from_the_service_identity() {
    let (_recorder, handle) = common::build(&MetricsSettings::default());
    let scrape = handle.render();
    assert_eq!(
        service_info_line(&scrape),
        "service_info{service_name=\"hello-service\",service_version=\"1.2.3\",\
         deployment_environment=\"prod\",team=\"boost\",\
         runbook_url=\"https://runbooks.example/hello-service\",tier=\"tier-1\"} 1"
    );
    assert!(scrape.contains("# TYPE service_info gauge"));
    assert!(scrape.contains("# HELP service_info "));
}

#[test]
fn service_info_of_a_default_identity_still_has_every_label() {
    let identity = ServiceIdentity::new("bare", "0.1.0");
    let (_recorder, handle) = MetricsHandle::build(&MetricsSettings::default(), &identity).unwrap();
    let scrape = handle.render();
    let line = service_info_line(&scrape);
    for label in [
        "service_name=\"bare\"",
        "service_version=\"0.1.0\"",
        "deployment_environment=\"dev\"",
        "team=\"unknown\"",
        "runbook_url=\"\"",
        "tier=\"unknown\"",
    ] {
        assert!(line.contains(label), "{label} missing from {line}");
    }
    assert!(line.ends_with("} 1"));
}

#[test]
fn label_values_with_quotes_are_escaped() {
    let mut identity = common::identity();
    identity.team = "say \"hi\"\nteam".into();
    let (_recorder, handle) = MetricsHandle::build(&MetricsSettings::default(), &identity).unwrap();
    let scrape = handle.render();
    assert!(
        service_info_line(&scrape).contains(r#"team="say \"hi\"\nteam""#),
        "{scrape}"
    );
}
