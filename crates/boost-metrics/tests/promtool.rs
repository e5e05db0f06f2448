//! `promtool check metrics` on a realistic scrape finds nothing to complain about.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[test]
#[ignore = "needs promtool"]
fn promtool_check_metrics_finds_nothing_in_a_realistic_scrape() {
    let scrape = common::realistic_scrape();
    if let Err(findings) = boost_test_promtool::check_metrics(&scrape) {
        panic!("promtool check metrics reported findings:\n{findings}\n--- scrape ---\n{scrape}");
    }
}
