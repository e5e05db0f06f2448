//! What is generated from `[slo]`: the alert rules and the runbook, for
//! `--print-alert-rules`, `--print-runbook` and `GET /runbook`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use boost_config::{Loaded, Source};
use boost_slo::{
    AdminToken, MAX_RUNBOOK_EXTRA, RulesOptions, RunbookInputs, RunbookSwitch, SloSettings,
};
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

/// Which layers set the two values the runbook must know the origin of:
/// `admin.token` (the commands send it as it is found on the instance) and
/// `slo.runbook_extra` (a relative path given in a file is relative to that
/// file's directory).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Origins {
    pub(crate) token: Option<Source>,
    pub(crate) runbook_extra: Option<Source>,
    /// The loader's environment-variable prefix.
    pub(crate) env_prefix: Option<String>,
}

impl Origins {
    /// As `loaded` has them.
    pub(crate) fn of<T>(loaded: &Loaded<T>) -> Self {
        Self {
            token: Some(loaded.source_of("admin.token")),
            runbook_extra: Some(loaded.source_of("slo.runbook_extra")),
            env_prefix: Some(boost_config::env_prefix(loaded.service_name())),
        }
    }
}

/// The runbook `GET /runbook` serves: as [`runbook`], or, when the team's
/// file cannot be used, without it and saying why (logged as a warning too):
/// a documentation file must not keep the service from starting.
pub(crate) fn served_runbook(kit: &KitSettings, origins: &Origins) -> String {
    match runbook(kit, origins) {
        Ok(text) => text,
        Err(error) => {
            tracing::warn!("{error}; GET /runbook serves the generated runbook without it");
            let mut inputs = inputs(kit, origins);
            inputs.extra = Some(format!(
                "> **Note:** the team's runbook text is missing: {error}\n"
            ));
            boost_slo::runbook(&kit.slo, &kit.service, &inputs)
        }
    }
}

/// The Prometheus rules of the service as `kit` configures it, every window
/// and `for` multiplied by `time_scale` (1 in production; tests shorten them
/// with `--slo-time-scale`).
pub(crate) fn alert_rules(kit: &KitSettings, time_scale: f64) -> String {
    boost_slo::rules(
        &kit.slo,
        &kit.service,
        &RulesOptions::new(kit.admin_url()).time_scale(time_scale),
    )
}

/// The runbook, with the team's text from `slo.runbook_extra` merged in.
///
/// # Errors
/// The file cannot be read, or is larger than 256 KiB, or not UTF-8: the
/// message names `slo.runbook_extra`, the layer that set it and the file.
pub(crate) fn runbook(kit: &KitSettings, origins: &Origins) -> Result<String, String> {
    let extra = match &kit.slo.runbook_extra {
        None => None,
        Some(path) => {
            let (file, rule) = runbook_extra_path(path, origins.runbook_extra.as_ref());
            Some(read_bounded(&file).map_err(|why| {
                let layer = origins
                    .runbook_extra
                    .as_ref()
                    .map(|source| format!(" ({source})"))
                    .unwrap_or_default();
                format!(
                    "slo.runbook_extra{layer}: cannot use {}{rule}: {why}",
                    file.display()
                )
            })?)
        }
    };
    let mut inputs = inputs(kit, origins);
    inputs.extra = extra;
    Ok(boost_slo::runbook(&kit.slo, &kit.service, &inputs))
}

/// Where the team's file is: a relative `path` set in a configuration file
/// is relative to that file's directory (so `runbook_extra = "../runbook.md"`
/// in `config/prod.toml` is found wherever the binary runs from); set by an
/// environment variable, `--set` or code, relative to the working
/// directory. Also the rule applied, for error messages.
fn runbook_extra_path(path: &Path, source: Option<&Source>) -> (PathBuf, &'static str) {
    match source {
        Some(Source::File(file)) if path.is_relative() => {
            let dir = file.parent().unwrap_or_else(|| Path::new(""));
            (
                dir.join(path),
                " (a relative path is relative to the directory of the file that names it)",
            )
        }
        _ if path.is_relative() => (
            path.to_owned(),
            " (relative to the working directory: set outside a configuration file)",
        ),
        _ => (path.to_owned(), ""),
    }
}

/// Where the admin token comes from, for the runbook's commands.
fn admin_token(kit: &KitSettings, source: Option<&Source>) -> AdminToken {
    if kit.admin.token.is_none() {
        return AdminToken::Unset;
    }
    match source {
        Some(Source::Env(var)) => AdminToken::Env(var.clone()),
        Some(Source::EnvFile { var, path }) => AdminToken::File {
            var: var.clone(),
            path: path.clone(),
        },
        Some(Source::Default | Source::Code) | None => {
            AdminToken::Config("the service's code".to_owned())
        }
        Some(other) => AdminToken::Config(other.to_string()),
    }
}

/// The runbook's inputs from the kit's sections, without the team's text.
fn inputs(kit: &KitSettings, origins: &Origins) -> RunbookInputs {
    let mut inputs = RunbookInputs::default();
    inputs.admin_url = kit.admin_url();
    inputs.token = admin_token(kit, origins.token.as_ref());
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
    inputs.switches_shared = kit.switches.backend == boost_switches::BackendKind::Redis;
    inputs.env_prefix.clone_from(&origins.env_prefix);
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

    fn load(dir: &Path, env: &[(&str, &str)]) -> Loaded<crate::Config<crate::NoSettings>> {
        let mut vars = vec![("APP_ENV".to_owned(), String::new())];
        vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let loaded = boost_config::Loader::new("hello-service")
            .dir(dir)
            .env_vars(vars)
            .load::<crate::Config<crate::NoSettings>>();
        assert!(loaded.is_ok(), "{:?}", loaded.err());
        loaded.unwrap_or_else(|_| unreachable!())
    }

    fn with_switch(kit: &mut KitSettings) {
        kit.switches.declared.insert(
            "profiles_upstream".into(),
            boost_switches::SwitchDef::toggle("Call profile-service.", "greetings", true),
        );
    }

    #[test]
    fn the_runbook_sends_the_token_from_the_file_token_file_names() {
        let dir = tempfile::tempdir().ok();
        let dir = dir
            .as_ref()
            .map(|d| d.path().to_owned())
            .unwrap_or_default();
        let token = dir.join("admin-token");
        let _ = std::fs::write(&token, "0123456789abcdef0123456789abcdef\n");
        let config = load(
            &dir,
            &[(
                "HELLO_SERVICE__ADMIN__TOKEN_FILE",
                token.to_str().unwrap_or_default(),
            )],
        );
        let mut kit = config.kit.clone();
        with_switch(&mut kit);
        let text = runbook(&kit, &Origins::of(&config)).unwrap_or_default();
        let bearer = format!("Authorization: Bearer $(cat {})", token.display());
        assert!(
            text.contains(&format!(
                "curl -sS -X PUT http://127.0.0.1:8081/flags/profiles_upstream \\\n  -H \"{bearer}\""
            )),
            "{text}"
        );
        assert!(text.contains("HELLO_SERVICE__ADMIN__TOKEN_FILE"), "{text}");
        assert!(!text.contains("$HELLO_SERVICE__ADMIN__TOKEN\""), "{text}");
    }

    #[test]
    fn the_runbook_sends_the_token_variable_or_says_none_is_configured() {
        let dir = tempfile::tempdir().ok();
        let dir = dir
            .as_ref()
            .map(|d| d.path().to_owned())
            .unwrap_or_default();
        let config = load(
            &dir,
            &[(
                "HELLO_SERVICE__ADMIN__TOKEN",
                "0123456789abcdef0123456789abcdef",
            )],
        );
        let text = runbook(&config.kit, &Origins::of(&config)).unwrap_or_default();
        assert!(
            text.contains("Authorization: Bearer $HELLO_SERVICE__ADMIN__TOKEN\""),
            "{text}"
        );

        let config = load(&dir, &[]);
        let text = runbook(&config.kit, &Origins::of(&config)).unwrap_or_default();
        assert!(text.contains("No admin token is configured"), "{text}");
        assert!(
            text.contains("HELLO_SERVICE__ADMIN__TOKEN_FILE=<that file>"),
            "{text}"
        );
    }

    #[test]
    fn each_alert_section_says_what_helps_and_lists_the_switches_where_they_may() {
        let mut kit = KitSettings::default();
        kit.service.name = "hello-service".into();
        with_switch(&mut kit);
        let text = runbook(&kit, &Origins::default()).unwrap_or_default();
        let section = |alert: &str| {
            let anchor = format!("<a id=\"{}\"></a>", boost_slo::anchor(alert));
            text.split(&anchor)
                .nth(1)
                .and_then(|rest| rest.split("<a id=").next())
                .unwrap_or_default()
                .to_owned()
        };
        let shedding = section("LoadShedding");
        assert!(
            shedding.contains("grpc.server.concurrency_limit"),
            "{shedding}"
        );
        assert!(shedding.contains("http.concurrency_limit"), "{shedding}");
        assert!(
            shedding.contains("`profiles_upstream`: Call profile-service. `curl -sS -X PUT"),
            "{shedding}"
        );
        let ejected = section("UpstreamEndpointsEjected");
        assert!(ejected.contains("grep 'client=\"<client>\"'"), "{ejected}");
        assert!(ejected.contains("max_ejected_percent"), "{ejected}");
        let dropped = section("LogLinesDropped");
        assert!(!dropped.contains("profiles_upstream"), "{dropped}");
        assert_ne!(shedding, dropped);
        for alert in boost_slo::alert_names(&kit.slo, &kit.service) {
            assert!(
                section(&alert).contains("**You may, without escalating:**\n\n- "),
                "{alert} has no advice of its own"
            );
        }
    }

    #[test]
    fn a_relative_team_file_is_found_beside_the_config_file_that_names_it() {
        let dir = tempfile::tempdir().ok();
        let dir = dir
            .as_ref()
            .map(|d| d.path().to_owned())
            .unwrap_or_default();
        let config_dir = dir.join("config");
        let _ = std::fs::create_dir_all(&config_dir);
        let _ = std::fs::write(
            config_dir.join("default.toml"),
            "[slo]\nrunbook_extra = \"../runbook.md\"\n",
        );
        let _ = std::fs::write(dir.join("runbook.md"), "## ServiceDown\nCall the DBA.\n");
        let config = load(&config_dir, &[]);
        let text = runbook(&config.kit, &Origins::of(&config)).unwrap_or_default();
        assert!(text.contains("Call the DBA."), "{text}");

        // Missing: the error names the key, the file that set it, the path
        // and the rule.
        let _ = std::fs::remove_file(dir.join("runbook.md"));
        let error = runbook(&config.kit, &Origins::of(&config))
            .err()
            .unwrap_or_default();
        assert!(error.contains("slo.runbook_extra (file "), "{error}");
        assert!(error.contains("default.toml"), "{error}");
        assert!(
            error.contains("relative to the directory of the file"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_or_oversized_team_file_is_an_error_naming_the_key() {
        let mut kit = KitSettings::default();
        kit.slo.runbook_extra = Some("no/such/runbook.md".into());
        let error = runbook(&kit, &Origins::default()).err().unwrap_or_default();
        assert!(error.contains("slo.runbook_extra"), "{error}");
        assert!(
            error.contains("relative to the working directory"),
            "{error}"
        );

        let dir = tempfile::tempdir().ok();
        let path = dir
            .as_ref()
            .map(|d| d.path().join("big.md"))
            .unwrap_or_default();
        let _ = std::fs::write(&path, "x".repeat(MAX_RUNBOOK_EXTRA + 1));
        kit.slo.runbook_extra = Some(path);
        let error = runbook(&kit, &Origins::default()).err().unwrap_or_default();
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
