//! What is generated from `[slo]`: the alert rules and the runbook, for
//! `--print-alert-rules`, `--print-runbook` and `GET /runbook`.

use std::io::Read as _;

use boost_slo::{MAX_RUNBOOK_EXTRA, RulesOptions, RunbookInputs, RunbookSwitch, SloSettings};
use boost_switches::SwitchKind;

use crate::kit::KitSettings;
use crate::settings::AdminSettings;

/// The admin server's base URL for runbook commands and alert links:
/// `slo.admin_url`, else `http(s)://<admin.listen>` with an unspecified
/// address shown as `localhost`.
pub(crate) fn admin_url(admin: &AdminSettings, slo: &SloSettings) -> String {
    if !slo.admin_url.is_empty() {
        return slo.admin_url.trim_end_matches('/').to_owned();
    }
    let scheme = if admin.tls.enabled { "https" } else { "http" };
    let listen = admin.listen;
    let host = if listen.ip().is_unspecified() {
        "localhost".to_owned()
    } else if listen.is_ipv6() {
        format!("[{}]", listen.ip())
    } else {
        listen.ip().to_string()
    };
    format!("{scheme}://{host}:{}", listen.port())
}

/// The runbook `GET /runbook` serves: as [`runbook`], or, when the team's
/// file cannot be used, without it and saying why (logged as a warning too):
/// a documentation file must not keep the service from starting.
pub(crate) fn served_runbook(kit: &KitSettings) -> String {
    match runbook(kit) {
        Ok(text) => text,
        Err(error) => {
            tracing::warn!("{error}; GET /runbook serves the generated runbook without it");
            let mut inputs = inputs(kit);
            inputs.extra = Some(format!(
                "> **Note:** the team's runbook text is missing: {error}\n"
            ));
            boost_slo::runbook(&kit.slo, &kit.service, &inputs)
        }
    }
}

/// The Prometheus rules of the service as `kit` configures it.
pub(crate) fn alert_rules(kit: &KitSettings) -> String {
    boost_slo::rules(&kit.slo, &kit.service, &RulesOptions::new(kit.admin_url()))
}

/// The runbook, with the team's text from `slo.runbook_extra` merged in.
///
/// # Errors
/// The file cannot be read, or is larger than 256 KiB, or not UTF-8: the
/// message names `slo.runbook_extra` and the file.
pub(crate) fn runbook(kit: &KitSettings) -> Result<String, String> {
    let extra =
        match &kit.slo.runbook_extra {
            None => None,
            Some(path) => Some(read_bounded(path).map_err(|why| {
                format!("slo.runbook_extra: cannot use {}: {why}", path.display())
            })?),
        };
    let mut inputs = inputs(kit);
    inputs.extra = extra;
    Ok(boost_slo::runbook(&kit.slo, &kit.service, &inputs))
}

/// The runbook's inputs from the kit's sections, without the team's text.
fn inputs(kit: &KitSettings) -> RunbookInputs {
    let mut inputs = RunbookInputs::default();
    inputs.admin_url = kit.admin_url();
    inputs.token_env = format!("{}__ADMIN__TOKEN", kit.service.env_prefix());
    inputs.switches = kit
        .switches
        .declared
        .iter()
        .map(|(name, def)| {
            RunbookSwitch::new(
                name.clone(),
                def.description.clone(),
                def.owner.clone(),
                def.kind == SwitchKind::Rollout,
            )
        })
        .collect();
    inputs
}

/// Reads at most [`MAX_RUNBOOK_EXTRA`] bytes of `path`; a longer file is an error.
fn read_bounded(path: &std::path::Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_RUNBOOK_EXTRA as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() > MAX_RUNBOOK_EXTRA {
        return Err(format!(
            "it is larger than {} KiB; keep the team's runbook text shorter",
            MAX_RUNBOOK_EXTRA / 1024
        ));
    }
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runbook_lists_the_declared_switches_with_the_authenticated_command() {
        let mut kit = KitSettings::default();
        kit.service.name = "hello-service".into();
        kit.switches.declared.insert(
            "profiles_upstream".into(),
            boost_switches::SwitchDef::toggle("Call profile-service.", "greetings", true),
        );
        let text = runbook(&kit).unwrap_or_default();
        assert!(
            text.contains("curl -sS -X PUT http://127.0.0.1:8081/flags/profiles_upstream"),
            "{text}"
        );
        assert!(
            text.contains("Authorization: Bearer $HELLO_SERVICE__ADMIN__TOKEN"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_or_oversized_team_file_is_an_error_naming_the_key() {
        let mut kit = KitSettings::default();
        kit.slo.runbook_extra = Some("no/such/runbook.md".into());
        let error = runbook(&kit).err().unwrap_or_default();
        assert!(error.contains("slo.runbook_extra"), "{error}");

        let dir = tempfile::tempdir().ok();
        let path = dir
            .as_ref()
            .map(|d| d.path().join("big.md"))
            .unwrap_or_default();
        let _ = std::fs::write(&path, "x".repeat(MAX_RUNBOOK_EXTRA + 1));
        kit.slo.runbook_extra = Some(path);
        let error = runbook(&kit).err().unwrap_or_default();
        assert!(error.contains("larger than 256 KiB"), "{error}");
    }

    #[test]
    fn the_admin_url_shows_an_unspecified_address_as_localhost() {
        let mut kit = KitSettings::default();
        kit.admin.listen = "0.0.0.0:9091".parse().unwrap_or(kit.admin.listen);
        assert_eq!(kit.admin_url(), "http://localhost:9091");
        kit.slo.admin_url = "https://hello.internal:8081/".into();
        assert_eq!(kit.admin_url(), "https://hello.internal:8081");
    }
}
