//! `install` makes the recorder global, once per process.
//!
//! This file holds a single test: the global recorder cannot be uninstalled,
//! so every other test file builds a local recorder instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use boost_metrics::{Error, MetricsSettings, conventions};

#[test]
fn install_records_through_the_facade_and_a_second_install_is_an_error() {
    let settings = MetricsSettings::default();
    let handle = boost_metrics::install(&settings, &common::identity()).unwrap();

    metrics::counter!(conventions::CACHE_REQUESTS_TOTAL,
        conventions::CACHE => "profiles", conventions::RESULT => "miss")
    .increment(2);
    let scrape = handle.render();
    assert!(
        scrape.contains(r#"cache_requests_total{cache="profiles",result="miss"} 2"#),
        "{scrape}"
    );
    assert!(
        scrape.contains("service_info{service_name=\"hello-service\""),
        "{scrape}"
    );

    let second = boost_metrics::install(&settings, &common::identity()).unwrap_err();
    assert!(matches!(second, Error::AlreadyInstalled));
    assert!(second.to_string().contains("install once"), "{second}");

    // The first handle keeps working, and clones render the same registry.
    let clone = handle.clone();
    metrics::counter!(conventions::CACHE_REQUESTS_TOTAL,
        conventions::CACHE => "profiles", conventions::RESULT => "miss")
    .increment(1);
    assert!(
        clone
            .render()
            .contains(r#"cache_requests_total{cache="profiles",result="miss"} 3"#)
    );
}
