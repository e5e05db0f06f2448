//! The Prometheus rules file and the Alertmanager route.

use std::fmt::Write as _;
use std::time::Duration;

use boost_config::ServiceIdentity;

use crate::alerts::{self, anchor};
use crate::promql;
use crate::settings::SloSettings;
use crate::yaml::quote;

/// The smallest time scale accepted: 1 hour becomes 0.36 s.
pub const MIN_TIME_SCALE: f64 = 0.0001;

/// A time scale that cannot be used ([`RulesOptions::parse_time_scale`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeScaleError {
    /// Neither a number nor a fraction.
    #[error(
        "--slo-time-scale {given:?} is not a number: give a factor such as 0.05 or 1/20 \
         (every window and `for` of the rules is multiplied by it; tests only)"
    )]
    NotANumber {
        /// The text given (at most 64 characters of it).
        given: String,
    },
    /// Not in `MIN_TIME_SCALE..=1`.
    #[error(
        "--slo-time-scale {given} is out of range: give at least 0.0001 and at most 1 \
         (1 is production; a test shortens the windows with e.g. 1/20)"
    )]
    OutOfRange {
        /// The text given.
        given: String,
    },
}

/// How the rules are generated.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RulesOptions {
    /// The admin server as on-call reaches it (`http://host:8081`): the
    /// `runbook_url` of every alert is `<this>/runbook#<alert>` unless
    /// `service.runbook_url` is set.
    pub admin_url: String,
    /// **Tests only.** Every window (the SLI rates, the range of `changes`
    /// and `increase`) and every `for` duration is multiplied by it, and the
    /// rule groups are evaluated every `1m × time_scale` (at least `1s`), so a
    /// test sees a 14.4x burn page within seconds instead of an hour.
    /// Thresholds (burn factors, the certificate's days) stay as they are.
    /// Clamped to `0.0001..=1` ([`MIN_TIME_SCALE`]); `1` (the default) is
    /// production. `--slo-time-scale <factor>` beside `--print-alert-rules`
    /// sets it from the command line ([`RulesOptions::parse_time_scale`]).
    pub time_scale: f64,
}

impl RulesOptions {
    /// Production rules linking to `admin_url`.
    pub fn new(admin_url: impl Into<String>) -> Self {
        Self {
            admin_url: admin_url.into(),
            time_scale: 1.0,
        }
    }

    /// The same, with every window and `for` multiplied by `time_scale` (tests).
    pub fn time_scale(mut self, time_scale: f64) -> Self {
        self.time_scale = time_scale;
        self
    }

    /// Parses a time scale as `--slo-time-scale` takes it: a number
    /// (`0.05`) or a fraction (`1/20`), from [`MIN_TIME_SCALE`] to 1.
    ///
    /// ```
    /// use boost_slo::RulesOptions;
    ///
    /// assert_eq!(RulesOptions::parse_time_scale("1/20"), Ok(0.05));
    /// assert_eq!(RulesOptions::parse_time_scale("1"), Ok(1.0));
    /// assert!(RulesOptions::parse_time_scale("20").is_err());
    /// assert!(RulesOptions::parse_time_scale("fast").is_err());
    /// ```
    ///
    /// # Errors
    /// [`TimeScaleError`] when the text is not a number or a fraction, or
    /// its value is outside `MIN_TIME_SCALE..=1`.
    pub fn parse_time_scale(text: &str) -> Result<f64, TimeScaleError> {
        let given = text.trim();
        let not_a_number = || TimeScaleError::NotANumber {
            given: given.chars().take(64).collect(),
        };
        if given.len() > 64 {
            return Err(not_a_number());
        }
        let value = match given.split_once('/') {
            Some((top, bottom)) => {
                let top: f64 = top.trim().parse().map_err(|_| not_a_number())?;
                let bottom: f64 = bottom.trim().parse().map_err(|_| not_a_number())?;
                top / bottom
            }
            None => given.parse().map_err(|_| not_a_number())?,
        };
        if !value.is_finite() || !(MIN_TIME_SCALE..=1.0).contains(&value) {
            return Err(TimeScaleError::OutOfRange {
                given: given.to_owned(),
            });
        }
        Ok(value)
    }

    fn scale(&self) -> f64 {
        if self.time_scale.is_finite() {
            self.time_scale.clamp(0.0001, 1.0)
        } else {
            1.0
        }
    }
}

/// Where an alert's runbook section is: `service.runbook_url` if set, else
/// the admin server's `/runbook`, then `#<anchor>`.
pub fn runbook_url(identity: &ServiceIdentity, admin_url: &str, alert: &str) -> String {
    let base = if identity.runbook_url.is_empty() {
        format!("{}/runbook", admin_url.trim_end_matches('/'))
    } else {
        identity.runbook_url.clone()
    };
    let base = base.split('#').next().unwrap_or_default().to_owned();
    format!("{base}#{}", anchor(alert))
}

/// The dashboard the alerts link to: `slo.dashboard_url`, else
/// `/d/boost-<service>` (relative to Grafana).
pub fn dashboard_url(slo: &SloSettings, identity: &ServiceIdentity) -> String {
    if slo.dashboard_url.is_empty() {
        format!("/d/{}", dashboard_uid(identity))
    } else {
        slo.dashboard_url.clone()
    }
}

/// The generated dashboard's uid: `boost-<service>`, at most 40 characters
/// (Grafana's limit). A name that does not fit, or has characters a uid
/// cannot hold (`.`), is cut and ends in 8 hex digits of its hash instead, so
/// two services never share a dashboard (`…-api` and `…-worker` cut to the
/// same 40 characters; `billing.api` and `billing-api`).
///
/// ```
/// use boost_config::ServiceIdentity;
///
/// let uid = |name: &str| boost_slo::dashboard_uid(&ServiceIdentity::new(name, "1.0.0"));
/// assert_eq!(uid("hello-service"), "boost-hello-service");
/// assert_ne!(uid("billing.api"), uid("billing-api"));
/// assert_ne!(
///     uid("customer-notification-preferences-api"),
///     uid("customer-notification-preferences-worker"),
/// );
/// assert!(uid("customer-notification-preferences-worker").len() <= 40);
/// ```
pub fn dashboard_uid(identity: &ServiceIdentity) -> String {
    const MAX: usize = 40;
    let full = format!("boost-{}", identity.name);
    let clean: String = full
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if clean == full && clean.len() <= MAX {
        return clean;
    }
    // FNV-1a: fixed forever, so a service keeps its uid across releases.
    let hash = identity
        .name
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    let kept: String = clean.chars().take(MAX - 9).collect();
    format!("{kept}-{:08x}", hash as u32 ^ (hash >> 32) as u32)
}

/// The Prometheus rules file (`rule_files:`) of a service: SLI recording
/// rules over 5m, 30m, 1h, 6h and 3d, the multi-window multi-burn-rate alerts
/// of every objective, and the kit's own alerts.
///
/// ```
/// use boost_config::ServiceIdentity;
/// use boost_slo::{RulesOptions, SloSettings};
///
/// let identity = ServiceIdentity::new("hello-service", "1.0.0");
/// let yaml = boost_slo::rules(&SloSettings::default(), &identity, &RulesOptions::new("http://localhost:8081"));
/// assert!(yaml.contains("alert: \"AvailabilityFastBurn\""));
/// assert!(yaml.contains("runbook_url: \"http://localhost:8081/runbook#availabilityfastburn\""));
/// ```
pub fn rules(slo: &SloSettings, identity: &ServiceIdentity, options: &RulesOptions) -> String {
    let scale = options.scale();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Prometheus rules of {name}, generated from its [slo] settings \
         (`{name} --print-alert-rules`); do not edit: change the config and regenerate.",
        name = identity.name
    );
    if scale < 1.0 {
        let _ = writeln!(
            out,
            "# TEST ONLY: every window and `for` is scaled by {}.",
            promql::number(scale)
        );
    }
    out.push_str("groups:\n");
    let interval = (scale < 1.0).then(|| {
        promql::duration(promql::scaled(Duration::from_secs(60), scale).max(Duration::from_secs(1)))
    });
    let group = |out: &mut String, suffix: &str| {
        let _ = writeln!(
            out,
            "  - name: {}",
            quote(&format!("{}-{suffix}", identity.name))
        );
        if let Some(interval) = &interval {
            let _ = writeln!(out, "    interval: {interval}");
        }
        out.push_str("    rules:\n");
    };

    let recordings = alerts::recordings(slo, identity, scale);
    if !recordings.is_empty() {
        group(&mut out, "slo-sli");
        for rule in recordings {
            let _ = writeln!(out, "      - record: {}", quote(&rule.record));
            let _ = writeln!(out, "        expr: {}", quote(&rule.expr));
            out.push_str("        labels:\n");
            for (key, value) in &rule.labels {
                let _ = writeln!(out, "          {key}: {}", quote(value));
            }
        }
    }

    let dashboard = dashboard_url(slo, identity);
    let all = alerts::alerts(slo, identity, scale);
    let (burn, kit): (Vec<_>, Vec<_>) = all.into_iter().partition(|a| a.name.ends_with("Burn"));
    for (suffix, list) in [("slo-alerts", burn), ("kit-alerts", kit)] {
        if list.is_empty() {
            continue;
        }
        group(&mut out, suffix);
        for alert in list {
            let _ = writeln!(out, "      - alert: {}", quote(&alert.name));
            let _ = writeln!(out, "        expr: {}", quote(&alert.expr));
            if let Some(d) = alert.for_duration {
                let _ = writeln!(
                    out,
                    "        for: {}",
                    promql::duration(promql::scaled(d, scale))
                );
            }
            out.push_str("        labels:\n");
            let _ = writeln!(out, "          service: {}", quote(&identity.name));
            let _ = writeln!(out, "          team: {}", quote(&identity.team));
            let _ = writeln!(out, "          severity: {}", quote(alert.severity));
            for (key, value) in &alert.labels {
                let _ = writeln!(out, "          {key}: {}", quote(value));
            }
            out.push_str("        annotations:\n");
            let _ = writeln!(out, "          summary: {}", quote(&alert.summary));
            let _ = writeln!(out, "          description: {}", quote(&alert.description));
            let _ = writeln!(
                out,
                "          runbook_url: {}",
                quote(&runbook_url(identity, &options.admin_url, &alert.name))
            );
            let _ = writeln!(out, "          dashboard: {}", quote(&dashboard));
        }
    }
    out
}

/// The names of every alert [`rules`] generates for these settings, each once.
pub fn alert_names(slo: &SloSettings, identity: &ServiceIdentity) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for alert in alerts::alerts(slo, identity, 1.0) {
        if !names.contains(&alert.name) {
            names.push(alert.name);
        }
    }
    names
}

/// An Alertmanager route for the service's team, to merge under the
/// configuration's `route.routes` (and its receivers under `receivers`):
/// `severity="page"` to `<team>-page`, `severity="ticket"` to
/// `<team>-ticket`, grouped by alert, service and objective; and its
/// `inhibit_rules` (merge them beside yours): while a graver alert fires, the
/// lesser one of the same problem is held back — a fast burn over the slower
/// tiers of the same objective, `CertificateExpiryImminent` over
/// `CertificateExpiresSoon` of the same certificate, `ServiceDown` over each
/// `TargetDown`.
///
/// ```
/// use boost_config::ServiceIdentity;
///
/// let mut identity = ServiceIdentity::new("hello-service", "1.0.0");
/// identity.team = "greetings".into();
/// let yaml = boost_slo::alertmanager_route(&identity);
/// assert!(yaml.contains("team=\\\"greetings\\\""));
/// assert!(yaml.contains("inhibit_rules:"));
/// ```
pub fn alertmanager_route(identity: &ServiceIdentity) -> String {
    let team = &identity.team;
    let matcher = |key: &str, value: &str| quote(&format!("{key}={}", promql::string(value)));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Alertmanager route for team {team} (alerts of {name} carry team={team:?}), generated \
         by `{name} --print-alertmanager-route`.\n\
         # Merge `route.routes` under your root route, `inhibit_rules` and `receivers` beside yours, then give \
         each receiver its integration\n\
         # (pagerduty_configs for page, a ticket queue or chat for ticket).",
        name = identity.name
    );
    out.push_str("route:\n  routes:\n");
    let _ = writeln!(out, "    - receiver: {}", quote(&format!("{team}-ticket")));
    let _ = writeln!(out, "      matchers: [{}]", matcher("team", team));
    out.push_str("      group_by: [\"alertname\", \"service\", \"slo\", \"rpc_method\"]\n");
    out.push_str("      continue: false\n      routes:\n");
    let _ = writeln!(
        out,
        "        - receiver: {}",
        quote(&format!("{team}-page"))
    );
    let _ = writeln!(out, "          matchers: [{}]", matcher("severity", "page"));
    out.push_str(
        "          group_wait: 30s\n          group_interval: 5m\n          repeat_interval: 4h\n",
    );
    let _ = writeln!(
        out,
        "        - receiver: {}",
        quote(&format!("{team}-ticket"))
    );
    let _ = writeln!(
        out,
        "          matchers: [{}]",
        matcher("severity", "ticket")
    );
    out.push_str(
        "          group_wait: 5m\n          group_interval: 30m\n          repeat_interval: 24h\n",
    );
    crate::inhibit::write(&mut out, team);
    out.push_str("receivers:\n");
    let _ = writeln!(out, "  - name: {}", quote(&format!("{team}-page")));
    let _ = writeln!(out, "  - name: {}", quote(&format!("{team}-ticket")));
    out
}
