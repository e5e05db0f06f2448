//! The runbook: one Markdown section per alert, with the team's own text merged in.

use std::fmt::Write as _;

use boost_config::ServiceIdentity;

use crate::alerts::{self, anchor};
use crate::settings::SloSettings;

/// Largest team runbook text merged in (`slo.runbook_extra`), bytes.
pub const MAX_RUNBOOK_EXTRA: usize = 256 * 1024;

/// One runtime switch the runbook lists as an action on-call may take.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunbookSwitch {
    /// Its name, as `PUT /flags/<name>` takes it.
    pub name: String,
    /// What it does (on / off).
    pub description: String,
    /// Who owns it.
    pub owner: String,
    /// A rollout (takes `percent`) rather than a toggle (takes `enabled`).
    pub rollout: bool,
}

impl RunbookSwitch {
    /// A switch called `name`.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        owner: impl Into<String>,
        rollout: bool,
    ) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            owner: owner.into(),
            rollout,
        }
    }
}

/// What the runbook needs besides the settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunbookInputs {
    /// The admin server's base URL (`http://localhost:8081`), the commands' target.
    pub admin_url: String,
    /// The environment variable holding the admin token, e.g.
    /// `HELLO_SERVICE__ADMIN__TOKEN`, as the commands send it.
    pub token_env: String,
    /// The service's declared runtime switches.
    pub switches: Vec<RunbookSwitch>,
    /// The team's own Markdown (`slo.runbook_extra`), at most
    /// [`MAX_RUNBOOK_EXTRA`] bytes (longer is cut at a line).
    pub extra: Option<String>,
}

/// The team's text, cut into what comes before the first `## ` heading and
/// the sections after it, by heading.
fn split_extra(extra: &str) -> (String, Vec<(String, String)>) {
    let mut preamble = String::new();
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in extra.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            sections.push((heading.trim().to_owned(), String::new()));
        } else if let Some((_, body)) = sections.last_mut() {
            body.push_str(line);
            body.push('\n');
        } else {
            preamble.push_str(line);
            preamble.push('\n');
        }
    }
    (preamble, sections)
}

fn bounded(extra: &str) -> &str {
    if extra.len() <= MAX_RUNBOOK_EXTRA {
        return extra;
    }
    let mut end = MAX_RUNBOOK_EXTRA;
    while !extra.is_char_boundary(end) {
        end -= 1;
    }
    let cut = &extra[..end];
    cut.rfind('\n').map_or(cut, |at| &cut[..at])
}

/// The runbook of a service, in Markdown: how to look at it, what on-call
/// may change without escalating (its runtime switches, with the exact
/// commands), whom to escalate to, then one section per alert
/// (`## <AlertName>`, anchor `#<alertname>`, the target of the alert's
/// `runbook_url`), each with what it means and what to check first. The
/// team's text (`inputs.extra`) is merged in: its sections headed
/// `## <AlertName>` are added to that alert's section, the rest at the top
/// (before its first heading) and the end.
///
/// ```
/// use boost_config::ServiceIdentity;
/// use boost_slo::{RunbookInputs, SloSettings};
///
/// let identity = ServiceIdentity::new("hello-service", "1.0.0");
/// let mut inputs = RunbookInputs::default();
/// inputs.admin_url = "http://localhost:8081".into();
/// inputs.extra = Some("## ServiceDown\nRestart with `systemctl restart hello`.\n".into());
/// let runbook = boost_slo::runbook(&SloSettings::default(), &identity, &inputs);
/// assert!(runbook.contains("<a id=\"servicedown\"></a>\n## ServiceDown"));
/// assert!(runbook.contains("systemctl restart hello"));
/// ```
pub fn runbook(slo: &SloSettings, identity: &ServiceIdentity, inputs: &RunbookInputs) -> String {
    let admin = inputs.admin_url.trim_end_matches('/');
    let name = &identity.name;
    let (preamble, mut team_sections) = split_extra(inputs.extra.as_deref().map_or("", bounded));
    let mut out = String::new();
    let _ = writeln!(out, "# Runbook: {name}\n");
    let _ = writeln!(
        out,
        "Owned by **{}**{}. Generated from the service's configuration \
         (`{name} --print-runbook`, served at `GET {admin}/runbook`); the team's own notes \
         come from `slo.runbook_extra`. Every alert of `{name} --print-alert-rules` has a \
         section below; its `runbook_url` links there.\n",
        identity.team,
        if identity.oncall.is_empty() {
            String::new()
        } else {
            format!(" (on-call: {})", identity.oncall)
        }
    );
    if !preamble.trim().is_empty() {
        out.push_str(preamble.trim_end());
        out.push_str("\n\n");
    }

    out.push_str("<a id=\"look\"></a>\n## Look\n\n");
    let _ = writeln!(
        out,
        "The admin server of each instance (`{admin}`) answers without a token:\n\n\
         | what | command |\n|---|---|\n\
         | alive, ready (a `503` names the failing check) | `curl -sS {admin}/health/live`, `curl -sS {admin}/health/ready` |\n\
         | version, build, start time | `curl -sS {admin}/info` |\n\
         | every metric | `curl -sS {admin}/metrics` |\n\
         | the effective configuration, with the layer of each value | `curl -sS {admin}/config` |\n\
         | runtime switches: state, who changed them, why | `curl -sS {admin}/flags` |\n\
         | recent admin changes (switches, log level) | `curl -sS {admin}/audit` |\n\
         | the log filter | `curl -sS {admin}/loglevel` |\n\
         | this runbook | `curl -sS {admin}/runbook` |\n"
    );

    out.push_str("<a id=\"act\"></a>\n## Act without escalating\n\n");
    let token = if inputs.token_env.is_empty() {
        "$ADMIN_TOKEN".to_owned()
    } else {
        format!("${}", inputs.token_env)
    };
    let _ = writeln!(
        out,
        "A level-2 operator may, without asking the owning team: flip the runtime switches \
         below (each change is audited, and `revert_after` undoes it by itself), raise the \
         log level for a while, and restart or scale out instances. Anything else — a \
         deploy, a configuration change — escalate.\n\n\
         State-changing commands need the admin token (`admin.token`), here in `{token}`.\n"
    );
    if inputs.switches.is_empty() {
        let _ = writeln!(
            out,
            "{name} declares no runtime switches (`[switches.declared]`).\n"
        );
    } else {
        out.push_str("| switch | what it does | owner |\n|---|---|---|\n");
        for switch in &inputs.switches {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                switch.name,
                switch.description.replace('|', "\\|").replace('\n', " "),
                switch.owner
            );
        }
        out.push('\n');
        for switch in &inputs.switches {
            let change = if switch.rollout {
                "\"percent\": 0"
            } else {
                "\"enabled\": false"
            };
            let _ = writeln!(
                out,
                "`{}`:\n\n```sh\ncurl -sS -X PUT {admin}/flags/{} \\\n  -H \"Authorization: Bearer {token}\" \\\n  -d '{{{change}, \"reason\": \"<why, incident id>\", \"actor\": \"<you>\", \"revert_after\": \"2h\"}}'\n```\n",
                switch.name, switch.name
            );
        }
    }
    let _ = writeln!(
        out,
        "The log level, for an hour at most (put the old filter back after):\n\n\
         ```sh\ncurl -sS -X PUT {admin}/loglevel -H \"Authorization: Bearer {token}\" \\\n  --data 'info,{}=debug'\n```\n",
        name.replace('-', "_")
    );

    out.push_str("<a id=\"escalate\"></a>\n## Escalate\n\n");
    let _ = writeln!(
        out,
        "To **{}**{} — when an action above does not stop a page within 30 minutes, when \
         data may be lost or wrong, or when the cause is in the code.\n",
        identity.team,
        if identity.oncall.is_empty() {
            String::new()
        } else {
            format!(", on-call {}", identity.oncall)
        }
    );

    let mut seen: Vec<String> = Vec::new();
    for alert in alerts::alerts(slo, identity, 1.0) {
        if seen.contains(&alert.name) {
            continue;
        }
        seen.push(alert.name.clone());
        let _ = writeln!(
            out,
            "<a id=\"{}\"></a>\n## {}\n",
            anchor(&alert.name),
            alert.name
        );
        let _ = writeln!(
            out,
            "**Severity:** {}. {}\n",
            alert.severity, alert.guide.meaning
        );
        out.push_str("**Check first:**\n\n");
        for step in &alert.guide.check {
            let _ = writeln!(out, "- {}", step.replace("{admin}", admin));
        }
        out.push_str(
            "\n**You may:** the actions of [Act without escalating](#act). **Escalate:** see \
             [Escalate](#escalate).\n\n",
        );
        if let Some(at) = team_sections.iter().position(|(h, _)| *h == alert.name) {
            let (_, body) = team_sections.remove(at);
            out.push_str("**From the team:**\n\n");
            out.push_str(body.trim_end());
            out.push_str("\n\n");
        }
    }
    for (heading, body) in team_sections {
        let _ = writeln!(out, "## {heading}\n\n{}\n", body.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_team_text_splits_at_second_level_headings() {
        let (pre, sections) = split_extra("intro\n## A\na1\n### sub\n## B\nb\n");
        assert_eq!(pre, "intro\n");
        assert_eq!(
            sections,
            [
                ("A".to_owned(), "a1\n### sub\n".to_owned()),
                ("B".to_owned(), "b\n".to_owned())
            ]
        );
    }

    #[test]
    fn an_oversized_team_text_is_cut_at_a_line() {
        let long = "x".repeat(100) + "\n";
        let text = long.repeat(MAX_RUNBOOK_EXTRA / 101 + 10);
        let cut = bounded(&text);
        assert!(cut.len() <= MAX_RUNBOOK_EXTRA);
        assert!(cut.ends_with('x'));
    }
}
