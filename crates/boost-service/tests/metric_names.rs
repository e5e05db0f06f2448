//! boost-tracing records its metrics under its own literals (it does not
//! depend on boost-metrics); they must be the names boost-metrics describes,
//! or the service exports them with a placeholder HELP.

use boost_metrics::conventions;

#[test]
fn boost_tracing_records_under_the_names_boost_metrics_describes() {
    assert_eq!(
        boost_tracing::LOG_DROPPED_LINES_TOTAL,
        conventions::LOG_DROPPED_LINES_TOTAL
    );
    assert_eq!(
        boost_tracing::LOG_SUPPRESSED_EVENTS_TOTAL,
        conventions::LOG_SUPPRESSED_EVENTS_TOTAL
    );
    for name in [
        boost_tracing::LOG_DROPPED_LINES_TOTAL,
        boost_tracing::LOG_SUPPRESSED_EVENTS_TOTAL,
    ] {
        assert!(
            conventions::METRICS.iter().any(|def| def.name == name),
            "{name} is not in boost_metrics::conventions::METRICS"
        );
    }
}

/// boost-tls records through the `metrics` facade under its own names (it
/// depends on boost-config only); they are the ones boost-metrics describes.
#[test]
fn boost_tls_records_under_the_names_boost_metrics_describes() {
    assert_eq!(
        boost_tls::metrics::TLS_CERTIFICATE_EXPIRY,
        conventions::TLS_CERTIFICATE_EXPIRY
    );
    assert_eq!(
        boost_tls::metrics::TLS_RELOAD_TOTAL,
        conventions::TLS_RELOAD_TOTAL
    );
    for name in [
        conventions::TLS_CERTIFICATE_EXPIRY,
        conventions::TLS_RELOAD_TOTAL,
        conventions::TLS_HANDSHAKE_FAILURES_TOTAL,
        conventions::RPC_SERVER_AUTHORIZATION_TOTAL,
    ] {
        assert!(
            conventions::METRICS.iter().any(|def| def.name == name),
            "{name} is not in boost_metrics::conventions::METRICS"
        );
    }
}
