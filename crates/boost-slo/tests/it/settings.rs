//! `[slo]`: defaults, and every refusal naming its key.

use boost_config::Problems;
use boost_metrics::MetricsSettings;
use boost_slo::SloSettings;

fn problems(toml_text: &str) -> Vec<(String, String)> {
    let slo: SloSettings = toml::from_str(toml_text).unwrap();
    Problems::of("slo", &slo)
        .iter()
        .map(|(k, m)| (k.to_owned(), m.to_owned()))
        .collect()
}

#[test]
fn the_defaults_are_valid_and_make_sense_for_a_new_service() {
    let slo = SloSettings::default();
    assert!(Problems::of("slo", &slo).is_empty());
    assert!(slo.bucket_problems(&MetricsSettings::default()).is_empty());
    assert_eq!(slo.window.as_secs(), 30 * 86_400);
    assert_eq!(slo.availability.target, 99.9);
    assert_eq!((slo.latency.target, slo.latency.threshold), (99.0, 0.25));
    assert_eq!(slo.job_or("hello-service"), "hello-service");
}

#[test]
fn a_target_too_low_for_the_fast_burn_to_fire_is_refused() {
    let found = problems("[availability]\ntarget = 93.0\n[latency]\ntarget = 93.1\n");
    let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["slo.availability.target"], "{found:?}");
    assert!(found[0].1.contains("93.06"), "{found:?}");
}

#[test]
fn targets_of_100_or_more_and_bad_thresholds_are_refused() {
    let found = problems("[availability]\ntarget = 100.0\n[latency]\nthreshold = -1.0\n");
    let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["slo.availability.target", "slo.latency.threshold"],
        "{found:?}"
    );
}

#[test]
fn windows_outside_a_week_to_a_quarter_are_refused() {
    for window in ["1d", "120d"] {
        let found = problems(&format!("window = \"{window}\"\n"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "slo.window");
    }
}

#[test]
fn method_names_must_be_grpc_full_names() {
    let found = problems("[methods.\"SayHello\".latency]\nthreshold = 0.1\n");
    assert_eq!(found[0].0, "slo.methods.SayHello", "{found:?}");
}

#[test]
fn a_latency_threshold_off_the_buckets_is_refused_naming_the_histogram() {
    let slo: SloSettings = toml::from_str("[latency]\nthreshold = 0.3\n").unwrap();
    let found = slo.bucket_problems(&MetricsSettings::default());
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, "latency.threshold");
    assert!(
        found[0].1.contains("rpc_server_call_duration_seconds"),
        "{found:?}"
    );
    assert!(
        found[1].1.contains("http_server_request_duration_seconds"),
        "{found:?}"
    );

    let metrics: MetricsSettings = toml::from_str(
        "[buckets]\nrpc_server_call_duration_seconds = [0.1, 0.3, 1.0]\n\
         http_server_request_duration_seconds = [0.3]\n",
    )
    .unwrap();
    assert!(slo.bucket_problems(&metrics).is_empty());
    // The default threshold is not among those overridden buckets.
    let found = SloSettings::default().bucket_problems(&metrics);
    assert_eq!(found.len(), 2, "{found:?}");
}

#[test]
fn unknown_keys_are_refused() {
    assert!(toml::from_str::<SloSettings>("[availability]\ntarget = 99.9\nfoo = 1\n").is_err());
}

#[test]
fn links_must_be_urls_that_are_safe_in_a_shell_command() {
    for (key, value, ok) in [
        ("admin_url", "http://hello-service.prod.internal:8081", true),
        ("admin_url", "https://10.0.0.1:8081/", true),
        ("admin_url", "hello.internal:8081", false),
        ("admin_url", "http://h:8081/$(reboot)", false),
        ("admin_url", "http://h:8081/ x", false),
        ("admin_url", "http://h;rm -rf /", false),
        ("admin_url", "ftp://h", false),
        ("dashboard_url", "/d/boost-hello-service", true),
        (
            "dashboard_url",
            "https://grafana.internal/d/boost-hello-service",
            true,
        ),
        ("dashboard_url", "//grafana/d/x", false),
        ("dashboard_url", "grafana/d/x", false),
    ] {
        let mut slo = boost_slo::SloSettings::default();
        if key == "admin_url" {
            slo.admin_url = value.to_owned();
        } else {
            slo.dashboard_url = value.to_owned();
        }
        let problems = boost_config::Problems::of("slo", &slo);
        let flagged = problems.keys().any(|k| k == format!("slo.{key}"));
        assert_eq!(!flagged, ok, "{key} = {value:?}: {problems:?}");
    }
}
