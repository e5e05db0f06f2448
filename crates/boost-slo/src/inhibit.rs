//! The Alertmanager inhibition rules that go with the team's route: while
//! the graver alert of a pair fires, the lesser one says nothing new and is
//! held back, so on-call gets one notification per problem, not two.

use std::fmt::Write as _;

use crate::alerts::{Kind, burn_alert_name};
use crate::burn::Tier;
use crate::promql;
use crate::yaml::quote;

/// One rule: `source` (an alert name) mutes the `targets` of the same team
/// where the `equal` labels match.
struct Inhibition {
    source: String,
    targets: Vec<String>,
    equal: &'static [&'static str],
}

/// A burn alert of an objective makes the slower tiers of the same
/// objective redundant: the fast page says more, and sooner. The kit's
/// pairs: an imminent certificate expiry over the 14-day ticket of the same
/// certificate, and no instance up over each instance's own ticket.
fn inhibitions() -> Vec<Inhibition> {
    const OBJECTIVE: &[&str] = &["service", "slo", "rpc_method"];
    let mut out = Vec::new();
    for kind in [Kind::Availability, Kind::Latency] {
        for (i, tier) in Tier::ALL.iter().enumerate() {
            let slower: Vec<String> = Tier::ALL[i + 1..]
                .iter()
                .map(|t| burn_alert_name(kind, *t))
                .collect();
            if !slower.is_empty() {
                out.push(Inhibition {
                    source: burn_alert_name(kind, *tier),
                    targets: slower,
                    equal: OBJECTIVE,
                });
            }
        }
    }
    out.push(Inhibition {
        source: "CertificateExpiryImminent".to_owned(),
        targets: vec!["CertificateExpiresSoon".to_owned()],
        equal: &["service", "role", "subject"],
    });
    out.push(Inhibition {
        source: "ServiceDown".to_owned(),
        targets: vec!["TargetDown".to_owned()],
        equal: &["service"],
    });
    out
}

/// Appends the top-level `inhibit_rules:` section for `team`'s alerts. Each
/// rule matches the team on both sides, so merged into a shared
/// configuration it never mutes another team's alerts.
pub(crate) fn write(out: &mut String, team: &str) {
    let matcher =
        |key: &str, op: &str, value: &str| quote(&format!("{key}{op}{}", promql::string(value)));
    out.push_str("inhibit_rules:\n");
    for rule in inhibitions() {
        let _ = writeln!(
            out,
            "  - source_matchers: [{}, {}]",
            matcher("alertname", "=", &rule.source),
            matcher("team", "=", team),
        );
        // Alert names are letters only: an alternation needs no escaping.
        let targets = if rule.targets.len() == 1 {
            matcher("alertname", "=", &rule.targets[0])
        } else {
            matcher("alertname", "=~", &rule.targets.join("|"))
        };
        let _ = writeln!(
            out,
            "    target_matchers: [{targets}, {}]",
            matcher("team", "=", team)
        );
        let equal: Vec<String> = rule.equal.iter().map(|l| quote(l)).collect();
        let _ = writeln!(out, "    equal: [{}]", equal.join(", "));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_burn_tier_mutes_only_the_slower_tiers_of_its_own_kind() {
        let mut out = String::new();
        super::write(&mut out, "greetings");
        assert!(
            out.contains(
                r#"source_matchers: ["alertname=\"AvailabilityFastBurn\"", "team=\"greetings\""]
    target_matchers: ["alertname=~\"AvailabilitySlowBurn|AvailabilitySteadyBurn\"", "team=\"greetings\""]"#
            ),
            "{out}"
        );
        assert!(
            out.contains(
                r#"source_matchers: ["alertname=\"LatencySlowBurn\"", "team=\"greetings\""]
    target_matchers: ["alertname=\"LatencySteadyBurn\"", "team=\"greetings\""]"#
            ),
            "{out}"
        );
        assert!(
            !out.contains(r#"source_matchers: ["alertname=\"AvailabilitySteadyBurn\""#),
            "{out}"
        );
        assert_eq!(out.matches("- source_matchers").count(), 6, "{out}");
    }
}
