//! The rules of [`ClientSettings`] and its sections: values that cannot work
//! are refused, every one of them, rather than quietly clamped.
//!
//! The derived [`Validate`](boost_config::Validate) impls in `settings.rs`
//! visit every section and then call these (`#[validate(custom = …)]`), so a
//! service's config reports them at load time under the client's section
//! (`profiles.retry.max_attempts`, with the layer that set it), and
//! [`crate::client()`] reports them the same way for settings made in code.

use std::time::Duration;

use boost_config::Problems;

use http::Uri;

use super::discover::parse_endpoint;
use super::settings::{
    ClientSettings, DnsSettings, EjectionSettings, ReconnectSettings, RetrySettings,
    ThrottleSettings,
};
use super::tls::parse_server_name;
use crate::status_code::parse_code;

/// `timeout`, `endpoints` (each URL, and that there is a way to find one).
pub(crate) fn client(settings: &ClientSettings, problems: &mut Problems) {
    if settings.timeout.is_zero() {
        problems.add(
            "timeout",
            "must be more than 0; it is the total time of one call, retries included \
             (default \"300ms\")",
        );
    }
    if settings.connect_timeout.is_zero() {
        problems.add(
            "connect_timeout",
            "must be more than 0 (every connect would time out at once); default \"1s\"",
        );
    }
    for (i, url) in settings.endpoints.iter().enumerate() {
        if let Err(why) = parse_endpoint(url) {
            problems.add(&format!("endpoints.{i}"), why);
        }
    }
    tls(settings, problems);
    let metadata = settings.max_response_metadata_size.as_u64();
    if !(1024..=16 << 20).contains(&metadata) {
        problems.add(
            "max_response_metadata_size",
            format!(
                "is {metadata} bytes; must be from 1 KiB to 16 MiB (default \"64 KiB\"): \
                 below, ordinary statuses fail; above, HTTP/2 itself refuses the header block"
            ),
        );
    }
    let dns_named = settings.dns.as_ref().is_some_and(|d| !d.name.is_empty());
    let replay = settings.tape.mode == super::tape::TapeMode::Replay;
    if settings.endpoints.is_empty() && !dns_named && !replay {
        problems.add(
            "endpoints",
            "is empty and dns.name is not set: list the upstream's URLs \
             (endpoints = [\"http://host:port\"]) or name it in dns.name",
        );
    }
}

/// Whether the endpoints and `tls` agree: one scheme for all endpoints;
/// `tls` only with `https://` endpoints or `dns`; a name to check each
/// server's certificate against.
fn tls(settings: &ClientSettings, problems: &mut Problems) {
    let parsed: Vec<(usize, Uri)> = settings
        .endpoints
        .iter()
        .enumerate()
        .filter_map(|(i, url)| Some((i, parse_endpoint(url).ok()?.1)))
        .collect();
    let https = |uri: &Uri| uri.scheme_str() == Some("https");
    let tls_set = settings.tls_configured();
    if let Some((_, first)) = parsed.first() {
        for (i, uri) in &parsed {
            if https(uri) != https(first) {
                problems.add(
                    &format!("endpoints.{i}"),
                    "mixes http:// and https:// in one client: an upstream is reached either \
                     over TLS or not; write every endpoint with the same scheme",
                );
            } else if tls_set && !https(uri) {
                problems.add(
                    &format!("endpoints.{i}"),
                    "is http:// (plaintext) while `tls` is set: write https:// to use TLS, \
                     or remove the `tls` section",
                );
            }
        }
    }
    if settings.tls.server_name.is_some() {
        return; // checked by the `tls` section's own rules
    }
    for (i, uri) in parsed.iter().filter(|(_, uri)| https(uri)) {
        if let Err(why) = parse_server_name(uri.host().unwrap_or_default()) {
            problems.add(
                &format!("endpoints.{i}"),
                format!("{why}; set `tls.server_name` to the name in the server's certificate"),
            );
        }
    }
    let dns_name = settings.dns.as_ref().map(|d| d.name.as_str());
    if let (true, true, Some(name)) = (tls_set, settings.endpoints.is_empty(), dns_name)
        && !name.is_empty()
        && let Err(why) = parse_server_name(name)
    {
        problems.add(
            "dns.name",
            format!("{why}; set `tls.server_name` to the name in the servers' certificates"),
        );
    }
}

/// `dns.refresh`, when a name is set.
pub(crate) fn dns(dns: &DnsSettings, problems: &mut Problems) {
    if !dns.name.is_empty() && dns.refresh.is_zero() {
        problems.add("refresh", "is 0; re-resolve every few seconds, e.g. \"5s\"");
    }
}

/// `retry.codes`, `retry.max_attempts`, `retry.budget_*`, `retry.multiplier`.
pub(crate) fn retry(retry: &RetrySettings, problems: &mut Problems) {
    for (i, name) in retry.codes.iter().enumerate() {
        if parse_code(name).is_none() {
            problems.add(
                &format!("codes.{i}"),
                format!("{name:?} is not a gRPC status code name (e.g. \"UNAVAILABLE\")"),
            );
        }
    }
    if retry.max_attempts == 0 {
        problems.add(
            "max_attempts",
            "is 0; it counts the first attempt too: 1 means no retries",
        );
    }
    let ttl = retry.budget_ttl;
    if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&ttl) {
        problems.add(
            "budget_ttl",
            format!("is {ttl:?}; it must be from 1s to 60s (tower's retry budget window)"),
        );
    }
    if !(retry.budget_ratio.is_finite() && retry.budget_ratio >= 0.0) {
        problems.add(
            "budget_ratio",
            format!(
                "is {}; it is retries per call, e.g. 0.2 (0 leaves only budget_min_per_sec)",
                retry.budget_ratio
            ),
        );
    }
    multiplier(retry.multiplier, problems);
}

/// `ejection.success_rate`, `ejection.max_ejected_percent`.
pub(crate) fn ejection(ejection: &EjectionSettings, problems: &mut Problems) {
    let rate = ejection.success_rate;
    if !(0.0..=1.0).contains(&rate) {
        problems.add(
            "success_rate",
            format!(
                "is {rate}; it is a fraction from 0 to 1 \
                 (0.8 ejects an endpoint below 80% success, 0 turns the check off)"
            ),
        );
    }
    if ejection.max_ejected_percent > 100 {
        problems.add(
            "max_ejected_percent",
            format!(
                "is {}; it is a percentage from 0 to 100",
                ejection.max_ejected_percent
            ),
        );
    }
}

/// `reconnect.multiplier`, `reconnect.initial_backoff` / `max_backoff`, `reconnect.jitter`.
pub(crate) fn reconnect(reconnect: &ReconnectSettings, problems: &mut Problems) {
    multiplier(reconnect.multiplier, problems);
    if reconnect.initial_backoff.is_zero() {
        problems.add(
            "initial_backoff",
            "is 0: every call would try to connect to an endpoint that is down; \
             use e.g. \"100ms\"",
        );
    }
    if reconnect.max_backoff < reconnect.initial_backoff {
        problems.add(
            "max_backoff",
            format!(
                "is {:?}, below initial_backoff ({:?}); it caps the backoff, e.g. \"500ms\"",
                reconnect.max_backoff, reconnect.initial_backoff
            ),
        );
    }
    if !(0.0..=1.0).contains(&reconnect.jitter) {
        problems.add(
            "jitter",
            format!(
                "is {}; it is a fraction from 0 to 1 (0.1 spreads each wait by ±10%)",
                reconnect.jitter
            ),
        );
    }
}

/// `k` (finite, at least 1) and `window` (1 s to 10 min).
pub(crate) fn throttle(throttle: &ThrottleSettings, problems: &mut Problems) {
    if !(throttle.k.is_finite() && throttle.k >= 1.0) {
        problems.add(
            "k",
            format!(
                "is {}; it is how many requests one accepted call pays for, at least 1 \
                 (below 1 a healthy upstream would be throttled); use e.g. 2",
                throttle.k
            ),
        );
    }
    if !(Duration::from_secs(1)..=Duration::from_secs(600)).contains(&throttle.window) {
        problems.add(
            "window",
            format!(
                "is {:?}; it must be from 1s to 10m (shorter counts too few answers, \
                 longer keeps a recovered upstream throttled); use e.g. \"10s\"",
                throttle.window
            ),
        );
    }
}

/// A backoff's `multiplier`: finite and at least 1.
fn multiplier(multiplier: f64, problems: &mut Problems) {
    if !(multiplier.is_finite() && multiplier >= 1.0) {
        problems.add(
            "multiplier",
            format!("is {multiplier}; backoff must not shrink: use 1 or more (e.g. 2)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use boost_config::{ConfigError, Problems, Source, Validate};

    use super::*;
    use crate::RpcError;

    fn valid() -> ClientSettings {
        ClientSettings::with_endpoints(["http://127.0.0.1:1"])
    }

    /// The keys `client("profiles", settings)` refuses, in order.
    fn refused_keys(settings: &ClientSettings) -> Vec<String> {
        Problems::of("profiles", settings)
            .keys()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_defaults_with_an_endpoint_are_valid() {
        assert!(Problems::of("profiles", &valid()).is_empty());
        let dns = ClientSettings {
            dns: Some(DnsSettings {
                name: "profiles.default.svc".into(),
                ..DnsSettings::default()
            }),
            ..ClientSettings::default()
        };
        assert!(Problems::of("profiles", &dns).is_empty());
    }

    #[tokio::test]
    async fn a_bad_client_setting_is_reported_under_the_clients_name() {
        let mut settings = valid();
        settings.timeout = Duration::ZERO;
        let Err(RpcError::Config(error)) = crate::client("profiles", &settings) else {
            panic!("a zero timeout was accepted");
        };
        let problems = error.problems();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "profiles.timeout");
        assert_eq!(problems[0].source, Source::Code);
        let text = RpcError::Config(error).to_string();
        assert!(
            text.starts_with(
                "invalid client settings: configuration for client `profiles` failed \
                 validation (1 problem):\n  - `profiles.timeout` (set in code): must be more than 0"
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn every_bad_setting_is_reported_at_once() {
        let mut settings = ClientSettings::with_endpoints([
            "http://127.0.0.1:1",
            "https://svc:CANARY_PW@10.0.0.7:50052",
        ]);
        settings.timeout = Duration::ZERO;
        settings.retry.max_attempts = 0;
        settings.retry.codes = vec!["UNAVAILABLE".into(), "SOMETIMES".into()];
        settings.ejection.success_rate = 80.0;
        settings.reconnect.multiplier = 0.5;
        let Err(error) = crate::client("profiles", &settings) else {
            panic!("accepted");
        };
        let RpcError::Config(config) = &error else {
            panic!("{error:?}");
        };
        let keys: Vec<&str> = config.problems().iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "profiles.retry.codes.1",
                "profiles.retry.max_attempts",
                "profiles.ejection.success_rate",
                "profiles.reconnect.multiplier",
                "profiles.timeout",
                "profiles.endpoints.1",
            ]
        );
        let text = error.to_string();
        assert!(text.contains("(6 problems)"), "{text}");
        assert!(!text.contains("CANARY_PW"), "{text}");
        assert!(text.contains("***@"), "{text}");
    }

    #[test]
    fn values_that_used_to_be_clamped_quietly_are_refused_naming_the_key() {
        let refused = |change: fn(&mut ClientSettings), key: &str| {
            let mut settings = valid();
            change(&mut settings);
            assert_eq!(refused_keys(&settings), [format!("profiles.{key}")]);
        };
        refused(|s| s.retry.max_attempts = 0, "retry.max_attempts");
        refused(|s| s.connect_timeout = Duration::ZERO, "connect_timeout");
        refused(
            |s| s.connect_timeout = Duration::from_secs(400 * 24 * 3600),
            "connect_timeout",
        );
        refused(
            |s| s.max_response_metadata_size = boost_config::ByteSize::b(100),
            "max_response_metadata_size",
        );
        refused(
            |s| s.max_response_metadata_size = boost_config::ByteSize::gib(1),
            "max_response_metadata_size",
        );
        refused(|s| s.retry.budget_ttl = Duration::ZERO, "retry.budget_ttl");
        refused(
            |s| s.retry.budget_ttl = Duration::from_secs(600),
            "retry.budget_ttl",
        );
        refused(|s| s.retry.budget_ratio = f64::NAN, "retry.budget_ratio");
        refused(|s| s.retry.multiplier = 0.5, "retry.multiplier");
        refused(
            |s| s.reconnect.multiplier = f64::INFINITY,
            "reconnect.multiplier",
        );
        refused(
            |s| s.reconnect.initial_backoff = Duration::ZERO,
            "reconnect.initial_backoff",
        );
        refused(
            |s| s.reconnect.max_backoff = Duration::from_millis(50),
            "reconnect.max_backoff",
        );
        refused(|s| s.reconnect.jitter = 1.5, "reconnect.jitter");
        refused(
            |s| s.ejection.max_ejected_percent = 150,
            "ejection.max_ejected_percent",
        );
        refused(|s| s.ejection.success_rate = -0.1, "ejection.success_rate");
        refused(
            |s| s.endpoints = vec!["127.0.0.1 50052".into()],
            "endpoints.0",
        );
        refused(|s| s.endpoints.clear(), "endpoints");
        refused(
            |s| {
                s.dns = Some(DnsSettings {
                    name: "profiles.svc".into(),
                    refresh: Duration::ZERO,
                    ..DnsSettings::default()
                })
            },
            "dns.refresh",
        );
    }

    #[test]
    fn tls_settings_and_endpoint_schemes_must_agree() {
        let tls = || boost_tls::ClientTlsSettings::default().with_ca_file("/etc/tls/ca.crt");
        let with = |endpoints: &[&str], tls: boost_tls::ClientTlsSettings| {
            let mut settings = ClientSettings::with_endpoints(endpoints.iter().copied());
            settings.tls = tls;
            Problems::of("profiles", &settings)
        };
        // https with or without a section (system roots), http without.
        assert!(with(&["https://10.0.0.5:443"], tls()).is_empty());
        let unset = boost_tls::ClientTlsSettings::default;
        assert!(with(&["https://profiles.internal:443"], unset()).is_empty());
        assert!(with(&["http://10.0.0.5:50052"], unset()).is_empty());

        let problems = with(&["http://10.0.0.5:50052"], tls());
        assert_eq!(
            problems.keys().collect::<Vec<_>>(),
            ["profiles.endpoints.0"]
        );
        let text = problems
            .into_result("client `profiles`")
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("is http:// (plaintext) while `tls` is set"),
            "{text}"
        );

        let problems = with(&["https://10.0.0.5:443", "http://10.0.0.6:50052"], unset());
        assert_eq!(
            problems.keys().collect::<Vec<_>>(),
            ["profiles.endpoints.1"]
        );
        let text = problems
            .into_result("client `profiles`")
            .unwrap_err()
            .to_string();
        assert!(text.contains("mixes http:// and https://"), "{text}");

        // A host no certificate can name (a DNS label is at most 63 bytes)
        // needs `tls.server_name`.
        let unnamed = format!("https://{}.internal:443", "a".repeat(64));
        let problems = with(&[&unnamed], tls());
        assert_eq!(
            problems.keys().collect::<Vec<_>>(),
            ["profiles.endpoints.0"]
        );
        let named = boost_tls::ClientTlsSettings::default().with_server_name("profiles.internal");
        assert!(with(&[&unnamed], named).is_empty());
    }

    #[test]
    fn a_service_config_validates_its_client_at_load_time() {
        #[derive(Debug, Default, serde::Deserialize, serde::Serialize, boost_config::Validate)]
        #[serde(default, deny_unknown_fields)]
        struct Settings {
            profiles: ClientSettings,
        }
        let error = boost_config::Loader::new("hello-service")
            .dir("no/such/dir")
            .env_vars([
                (
                    "HELLO_SERVICE__PROFILES__ENDPOINTS",
                    "http://127.0.0.1:50052",
                ),
                ("HELLO_SERVICE__PROFILES__TIMEOUT", "0s"),
                ("HELLO_SERVICE__PROFILES__RETRY__MAX_ATTEMPTS", "0"),
            ])
            .load::<Settings>()
            .unwrap_err();
        let ConfigError::Validation { problems, .. } = &error else {
            panic!("{error}");
        };
        let found: Vec<(&str, String)> = problems
            .iter()
            .map(|p| (p.key.as_str(), p.source.to_string()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "profiles.retry.max_attempts",
                    "env HELLO_SERVICE__PROFILES__RETRY__MAX_ATTEMPTS".to_owned()
                ),
                (
                    "profiles.timeout",
                    "env HELLO_SERVICE__PROFILES__TIMEOUT".to_owned()
                ),
            ]
        );
        let mut problems = Problems::new();
        Settings { profiles: valid() }.validate(&mut problems);
        assert!(problems.is_empty());
    }

    #[test]
    fn every_key_of_the_reference_file_says_what_it_does() {
        let mut settings = valid();
        settings.dns = Some(DnsSettings::default());
        let text = boost_config::reference_toml(&settings, "");
        let lines: Vec<&str> = text.lines().collect();
        let mut keys = 0;
        for (i, line) in lines.iter().enumerate() {
            let is_key = !line.starts_with('#') && !line.is_empty();
            if is_key {
                keys += 1;
                let above = i.checked_sub(1).map(|j| lines[j]).unwrap_or_default();
                assert!(above.starts_with("# "), "{line} has no comment:\n{text}");
            }
        }
        assert!(keys > 30, "{text}");
        assert!(text.contains("# Total time one call may take"), "{text}");
    }
}
