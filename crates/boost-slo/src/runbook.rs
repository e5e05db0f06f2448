//! The runbook: one Markdown section per alert, with the team's own text merged in.

use std::fmt::Write as _;
use std::path::PathBuf;

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

/// Where the service's admin token comes from (`admin.token`), so the
/// runbook's state-changing commands send it in the way that works on the
/// instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminToken {
    /// No token is configured: state-changing endpoints answer `403`. The
    /// runbook says how to configure one; its commands read `$ADMIN_TOKEN`.
    #[default]
    Unset,
    /// From an environment variable of the service's process, e.g.
    /// `HELLO_SERVICE__ADMIN__TOKEN`: the commands send `$<that variable>`.
    Env(String),
    /// From a file named by a `…_FILE` environment variable, e.g.
    /// `HELLO_SERVICE__ADMIN__TOKEN_FILE=/run/secrets/admin-token`: the
    /// commands send `$(cat <file>)`.
    File {
        /// The variable, e.g. `HELLO_SERVICE__ADMIN__TOKEN_FILE`.
        var: String,
        /// The file it names.
        path: PathBuf,
    },
    /// Written in a configuration layer (a file, `--set`), named by
    /// `source`, e.g. `file config/local.toml`: the commands read
    /// `$ADMIN_TOKEN`, which the operator exports from there first.
    Config(String),
}

impl AdminToken {
    /// The shell expression that yields the token in the commands.
    pub fn shell(&self) -> String {
        match self {
            AdminToken::Unset | AdminToken::Config(_) => "$ADMIN_TOKEN".to_owned(),
            AdminToken::Env(var) => format!("${var}"),
            AdminToken::File { path, .. } => {
                format!("$(cat {})", shell_word(&path.display().to_string()))
            }
        }
    }

    /// One sentence on where the token is and what to do first.
    fn note(&self, env_prefix: &str) -> String {
        match self {
            AdminToken::Unset => format!(
                "No admin token is configured (`admin.token`), so state-changing commands answer \
                 `403` until one is: put a long random string (`openssl rand -hex 32`) in a \
                 file and set `{env_prefix}__ADMIN__TOKEN_FILE=<that file>` (or `admin.token`), then \
                 restart; the commands below read it from `$ADMIN_TOKEN`.",
            ),
            AdminToken::Env(var) => format!(
                "The admin token is the service's environment variable `{var}`: run the commands \
                 where it is set (a shell in the service's container, e.g. `kubectl exec`), or \
                 export it first."
            ),
            AdminToken::File { var, path } => format!(
                "The admin token is read from `{}` (`{var}`): the commands read it from there, \
                 on the instance.",
                path.display()
            ),
            AdminToken::Config(source) => format!(
                "The admin token is `admin.token`, set in {source}: `export ADMIN_TOKEN=<its \
                 value>` first."
            ),
        }
    }
}

/// `word` as one shell word: as is when it is plain, else single-quoted.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%=,".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// What the runbook needs besides the settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunbookInputs {
    /// The admin server's base URL (`http://localhost:8081`), the commands' target.
    pub admin_url: String,
    /// Where the admin token comes from, as the commands send it.
    pub token: AdminToken,
    /// The service's declared runtime switches.
    pub switches: Vec<RunbookSwitch>,
    /// Whether a switch change reaches every instance (`switches.backend =
    /// "redis"`) or only the one it is sent to (`"local"`, the default).
    pub switches_shared: bool,
    /// The team's own Markdown (`slo.runbook_extra`), at most
    /// [`MAX_RUNBOOK_EXTRA`] bytes (longer is cut at a line).
    pub extra: Option<String>,
    /// The prefix of the service's environment variables as its config
    /// loader reads them (`HELLO_SERVICE`), for the variables the runbook
    /// names; `None`: derived from `service.name`, which a config file may
    /// have changed while the loader kept the binary's name.
    pub env_prefix: Option<String>,
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
         | each upstream client: endpoints and ejections, throttle, retry budget | `curl -sS {admin}/upstreams` |\n\
         | the log filter | `curl -sS {admin}/loglevel` |\n\
         | this runbook | `curl -sS {admin}/runbook` |\n"
    );

    out.push_str("<a id=\"act\"></a>\n## Act without escalating\n\n");
    let token = inputs.token.shell();
    let _ = writeln!(
        out,
        "A level-2 operator may, without asking the owning team: flip the runtime switches \
         below (each change is audited, and `revert_after` undoes it by itself), raise the \
         log level for a while, and restart or scale out instances. Anything else — a \
         deploy, a configuration change — escalate. Each alert's section says what helps \
         with it.\n\n\
         State-changing commands need the admin token. {}\n",
        inputs.token.note(
            &inputs
                .env_prefix
                .clone()
                .unwrap_or_else(|| identity.env_prefix())
        )
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
                one_line(&switch.description),
                one_line(&switch.owner)
            );
        }
        out.push('\n');
        if inputs.switches_shared {
            out.push_str(
                "Switches are shared (`switches.backend = \"redis\"`): a change sent to one \
                 instance reaches every instance within a second; `/flags` on any of them \
                 shows it.\n\n",
            );
        } else {
            out.push_str(
                "**A change reaches only the instance it is sent to** (`switches.backend = \
                 \"local\"`): send it to every instance's admin address, then check `/flags` on \
                 each. (With `switches.backend = \"redis\"` one change would reach all.)\n\n",
            );
        }
        for switch in &inputs.switches {
            let _ = writeln!(
                out,
                "`{}`:\n\n```sh\n{}\n```\n",
                switch.name,
                switch_command(admin, &token, switch, " \\\n  ")
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
        out.push_str("\n**You may, without escalating:**\n\n");
        for step in &alert.guide.act {
            let _ = writeln!(
                out,
                "- {}",
                step.replace("{admin}", admin).replace("{token}", &token)
            );
        }
        if alert.guide.switches {
            if inputs.switches.is_empty() {
                let _ = writeln!(
                    out,
                    "- {name} declares no runtime switches (`[switches.declared]`): none to turn off."
                );
            } else {
                out.push_str("- Its runtime switches (see [Act without escalating](#act)):\n");
                for switch in &inputs.switches {
                    let _ = writeln!(
                        out,
                        "  - `{}`: {} `{}`",
                        switch.name,
                        one_line(&switch.description),
                        switch_command(admin, &token, switch, " ")
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "\n**Escalate:** to **{}**{} when that does not help (see [Escalate](#escalate)).\n",
            identity.team,
            if identity.oncall.is_empty() {
                String::new()
            } else {
                format!(" (on-call {})", identity.oncall)
            }
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

/// The authenticated command that turns `switch` off (a toggle) or to 0 %
/// (a rollout), undone by itself after two hours.
/// `break_with` goes between the command's parts (`" \\\n  "` in a code block).
fn switch_command(admin: &str, token: &str, switch: &RunbookSwitch, break_with: &str) -> String {
    let change = if switch.rollout {
        "\"percent\": 0"
    } else {
        "\"enabled\": false"
    };
    format!(
        "curl -sS -X PUT {admin}/flags/{}{break_with}-H \"Authorization: Bearer {token}\"{break_with}-d '{{{change}, \"reason\": \"<why, incident id>\", \"actor\": \"<you>\", \"revert_after\": \"2h\"}}'",
        switch.name
    )
}

fn one_line(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_or_newline_in_a_switch_owner_stays_inside_its_table_cell() {
        let identity = ServiceIdentity::new("hello-service", "1.0.0");
        let inputs = RunbookInputs {
            admin_url: "http://localhost:8081".into(),
            switches: vec![RunbookSwitch::new(
                "profiles_upstream",
                "Call | profile-service.",
                "greeters | payments\non-call",
                false,
            )],
            ..RunbookInputs::default()
        };
        let text = runbook(&SloSettings::default(), &identity, &inputs);
        let row = text
            .lines()
            .find(|l| l.starts_with("| `profiles_upstream` |"))
            .unwrap();
        assert_eq!(
            row,
            "| `profiles_upstream` | Call \\| profile-service. | greeters \\| payments on-call |"
        );
    }

    #[test]
    fn the_runbook_says_whether_a_switch_change_reaches_every_instance() {
        let identity = ServiceIdentity::new("hello-service", "1.0.0");
        let mut inputs = RunbookInputs {
            admin_url: "http://localhost:8081".into(),
            switches: vec![RunbookSwitch::new(
                "profiles_upstream",
                "Call profile-service.",
                "greeters",
                false,
            )],
            ..RunbookInputs::default()
        };
        let local = runbook(&SloSettings::default(), &identity, &inputs);
        assert!(
            local.contains("**A change reaches only the instance it is sent to**"),
            "{local}"
        );
        inputs.switches_shared = true;
        let shared = runbook(&SloSettings::default(), &identity, &inputs);
        assert!(shared.contains("reaches every instance within a second"));
        assert!(!shared.contains("reaches only the instance"));
        assert!(shared.contains("curl -sS http://localhost:8081/upstreams"));
    }

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
