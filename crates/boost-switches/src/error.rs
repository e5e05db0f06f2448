//! [`SwitchError`]: what can go wrong declaring, opening and changing switches.

use std::path::{Path, PathBuf};

/// A switch problem, saying what failed and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SwitchError {
    /// Code asked for a switch the configuration does not declare.
    #[error(
        "no switch {name:?} is declared; declare it under [switches.declared.{name}] \
         (declared: {known})"
    )]
    Undeclared {
        /// The name asked for.
        name: String,
        /// The declared names, comma-separated (or "none").
        known: String,
    },
    /// The switch exists but is of the other kind.
    #[error("switch {name:?} is a {actual}, not a {asked}; {hint}")]
    WrongKind {
        /// The switch.
        name: String,
        /// What it is ("toggle" or "rollout").
        actual: &'static str,
        /// What was asked for.
        asked: &'static str,
        /// What to do.
        hint: &'static str,
    },
    /// The `[switches]` section has problems (each with its key).
    #[error(transparent)]
    Config(#[from] boost_config::ConfigError),
    /// The state file could not be used.
    #[error("switches state file {}: {problem}", path.display())]
    StateFile {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        problem: String,
    },
    /// The state file could not be read or written.
    #[error(
        "could not {action} the switches state file {}: {source}; check that the \
         directory exists and this process may write it (switches.state_file)", path.display()
    )]
    StateIo {
        /// The file (or its directory).
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Redis (the `redis` backend) could not be used.
    #[error("switches Redis {url}: {problem}; check switches.redis.url and that Redis is up")]
    Redis {
        /// The URL, credentials masked.
        url: String,
        /// What failed.
        problem: String,
    },
    /// The switches need a Tokio runtime and none is running.
    #[error(
        "the switches must be opened inside a Tokio runtime (the redis backend and \
         revert_after run tasks)"
    )]
    NoRuntime,
}

impl SwitchError {
    pub(crate) fn state_io(path: &Path, action: &'static str, source: std::io::Error) -> Self {
        Self::StateIo {
            path: path.to_owned(),
            action,
            source,
        }
    }
}

/// Why a change was not made; nothing changed in any of these cases.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChangeError {
    /// No switch has that name (`404` on the admin server).
    #[error("no switch {name:?} is declared (declared: {known})")]
    Unknown {
        /// The name.
        name: String,
        /// The declared names.
        known: String,
    },
    /// The change does not fit the switch (`400`): `field` names the body
    /// field at fault.
    #[error("{field}: {problem}")]
    Invalid {
        /// The request field at fault (`enabled`, `percent`, `revert_after`, …).
        field: &'static str,
        /// What is wrong and what to send instead.
        problem: String,
    },
    /// The state could not be stored (`503`): the switch keeps its state.
    #[error("the switch state could not be stored, so nothing changed: {0}; try again")]
    Unavailable(SwitchError),
    /// Redis did not confirm the change and could not be asked again
    /// (`503`): it may be in force. The follower takes whatever Redis holds
    /// once it answers; `/flags` then shows it.
    #[error(
        "Redis did not confirm the change and could not be asked whether it holds it ({0}); \
         it may be in force: GET /flags shows the shared state once Redis answers"
    )]
    Uncertain(SwitchError),
    /// The change could not be audited (`503`): an unaudited change is not
    /// made.
    #[error("the audit record could not be written, so nothing changed: {0}")]
    Audit(boost_audit::AuditError),
}
