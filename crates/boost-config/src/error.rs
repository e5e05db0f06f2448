//! [`ConfigError`]: everything that can stop a configuration from loading.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::source::Source;

/// Why a configuration did not load.
///
/// Every message names what failed and where (file, line, environment variable,
/// key, layer) and never includes a secret value: a secret's type errors hide
/// the value, a secret file's content is never quoted, and a `--set` without `=`
/// is not echoed. `Display` is meant for a terminal:
///
/// ```text
/// invalid configuration for hello-service (2 problems):
///   - `grpc.lisen` (file config/default.toml:2): unknown key; did you mean `grpc.listen`?
///   - `profiles.timeout` (env HELLO_SERVICE__PROFILES__TIMEOUT): invalid value: string "soon", expected a duration
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The values do not fit the settings type: unknown keys, wrong types,
    /// unparsable values, required keys no layer sets. All problems found are listed.
    #[error("invalid configuration for {service} ({}):{}", count(.problems), list(.problems))]
    Invalid {
        /// The service being configured.
        service: String,
        /// Every problem found, each with its key and the layer that set it.
        problems: Vec<Problem>,
    },
    /// The values loaded but [`Validate`](crate::Validate) rejected them. All
    /// problems are listed.
    #[error("configuration for {service} failed validation ({}):{}", count(.problems), list(.problems))]
    Validation {
        /// The service being configured.
        service: String,
        /// Every problem the settings type reported.
        problems: Vec<Problem>,
    },
    /// The environment was named (`APP_ENV`, `Loader::environment`) but has
    /// no file, and its name is close to one that has (`prodution` next to
    /// `prod.toml`): most likely a typo, which would otherwise run on the
    /// defaults.
    #[error(
        "{origin}={name} names no config file ({}); did you mean {suggestion:?}? \
         (files exist for: {}; create an empty {name}.toml if {name:?} is a real \
         environment without settings of its own)",
        .path.display(),
        .known.join(", ")
    )]
    UnknownEnvironment {
        /// The environment asked for.
        name: String,
        /// Where the name came from (`APP_ENV`, `Loader::environment`).
        origin: &'static str,
        /// The file that does not exist.
        path: PathBuf,
        /// The environments that have a file.
        known: Vec<String>,
        /// The environment with a file most like `name`.
        suggestion: String,
    },
    /// A file named explicitly (`--config <file>`) does not exist.
    #[error("config file {} (given with {flag}) does not exist", .path.display())]
    MissingFile {
        /// The file.
        path: PathBuf,
        /// How it was named, e.g. `--config`.
        flag: &'static str,
    },
    /// A config file exists but could not be read.
    #[error("cannot read config file {}: {source}", .path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A config file holds more than the loader reads (4 MiB), or never ends
    /// (a device such as `/dev/zero`): only that much plus one byte is read.
    #[error(
        "config file {} is larger than {}, the most the loader reads; check that the \
         path names a config file, and move large generated tables out of the configuration",
        .path.display(),
        crate::bounded::show(*.limit)
    )]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// The bound in bytes.
        limit: u64,
    },
    /// The config directory (`Loader::dir`, `config` by default) exists but
    /// is not a directory. The loader never falls back to another place.
    #[error(
        "the config directory {} is not a directory; remove or rename that file, or \
         point the loader at the directory holding default.toml",
        .path.display()
    )]
    NotADirectory {
        /// The path that should be a directory.
        path: PathBuf,
    },
    /// A config file is not valid TOML.
    #[error("config file {}{} is not valid TOML: {message}", .path.display(), position(*.line, *.column))]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error, when known.
        line: Option<usize>,
        /// 1-based column of the error, when known.
        column: Option<usize>,
        /// What the TOML parser said (without quoting the file's content).
        message: String,
    },
    /// An environment variable with the service prefix cannot be used.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable's name.
        var: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A `_FILE` environment variable names a file that cannot be read.
    #[error("cannot read the secret file {} named by {var}: {source}", .path.display())]
    SecretFile {
        /// The variable, e.g. `HELLO_SERVICE__DB__PASSWORD_FILE`.
        var: String,
        /// The file it names.
        path: PathBuf,
        /// The I/O error (never the file's content).
        source: io::Error,
    },
    /// A `_FILE` environment variable names a file larger than a secret can
    /// be (64 KiB), or one that never ends (`/dev/zero`).
    #[error(
        "the secret file {} named by {var} is larger than {}, the most the loader reads \
         for a secret; check that {var} names the secret's file",
        .path.display(),
        crate::bounded::show(*.limit)
    )]
    SecretFileTooLarge {
        /// The variable, e.g. `HELLO_SERVICE__ADMIN__TOKEN_FILE`.
        var: String,
        /// The file it names.
        path: PathBuf,
        /// The bound in bytes.
        limit: u64,
    },
    /// A `_FILE` environment variable names an empty file (or one holding
    /// only line breaks). An empty secret is refused rather than read as "no
    /// secret": a token file that was not written yet must not turn a check off.
    #[error(
        "the secret file {} named by {var} is empty; write the secret into it, or unset {var}",
        .path.display()
    )]
    SecretFileEmpty {
        /// The variable, e.g. `HELLO_SERVICE__ADMIN__TOKEN_FILE`.
        var: String,
        /// The file it names.
        path: PathBuf,
    },
    /// A command-line argument the loader owns (`--set`, `--config`) is malformed.
    #[error("command-line argument {arg}: {message}")]
    Arg {
        /// The argument (for `--set`, only the key part).
        arg: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The environment name cannot be used to pick a file.
    #[error("environment name {name:?}: {message}")]
    Environment {
        /// The name from `APP_ENV` or [`Loader::environment`](crate::Loader::environment).
        name: String,
        /// What is wrong.
        message: String,
    },
    /// Hot reload could not start.
    #[error("cannot watch the configuration for changes: {message}")]
    Watch {
        /// What failed.
        message: String,
    },
}

impl ConfigError {
    /// The individual problems of an [`Invalid`](ConfigError::Invalid) or
    /// [`Validation`](ConfigError::Validation) error; empty for the others.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems, .. } | ConfigError::Validation { problems, .. } => {
                problems
            }
            _ => &[],
        }
    }
}

/// How many problems an error lists one by one; the rest are counted.
pub(crate) const SHOWN_PROBLEMS: usize = 20;

/// The header's count: every problem found (not only those shown), and
/// "at least" when the loader stopped looking before the end.
fn count(problems: &[Problem]) -> String {
    let stopped = problems
        .iter()
        .any(|problem| matches!(problem.kind, ProblemKind::NotSearched { .. }));
    let n = problems.len() - usize::from(stopped);
    let at_least = if stopped { "at least " } else { "" };
    match n {
        1 => format!("{at_least}1 problem"),
        n => format!("{at_least}{n} problems"),
    }
}

/// The first [`SHOWN_PROBLEMS`] problems, then how many more there are (a
/// file with 100,000 bad keys makes a short message, not a 10 MB one).
fn list(problems: &[Problem]) -> String {
    let (notes, problems): (Vec<&Problem>, Vec<&Problem>) = problems
        .iter()
        .partition(|problem| matches!(problem.kind, ProblemKind::NotSearched { .. }));
    let mut out = String::new();
    for problem in problems.iter().take(SHOWN_PROBLEMS) {
        out.push_str("\n  - ");
        out.push_str(&problem.to_string());
    }
    match problems.len().saturating_sub(SHOWN_PROBLEMS) {
        0 => {}
        1 => out.push_str("\n  - and 1 more problem"),
        more => out.push_str(&format!("\n  - and {more} more problems")),
    }
    for note in notes {
        out.push_str("\n  - ");
        out.push_str(&note.to_string());
    }
    out
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(":{line}:{column}"),
        (Some(line), None) => format!(":{line}"),
        _ => String::new(),
    }
}

/// One problem with one key, and the layer that set it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Problem {
    /// The full key path, e.g. `grpc.listen`.
    pub key: String,
    /// The layer that set the value ([`Source::Default`] when none did).
    pub source: Source,
    /// For a value set in a file, the line of its key, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// What is wrong with a key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The settings type has no such key.
    UnknownKey {
        /// A known key with a similar name, if there is one.
        suggestion: Option<String>,
    },
    /// The value has the wrong type or does not parse. The message names the
    /// expected type; for secrets it never shows the value.
    BadValue {
        /// What the parser said, e.g. `invalid type: string "abc", expected u16`.
        message: String,
    },
    /// The key is required and no layer sets it.
    Missing,
    /// [`Validate`](crate::Validate) rejected the value.
    Invalid {
        /// The rule that failed, in the settings type's words.
        message: String,
    },
    /// Not a problem of its own, always last: the loader stopped looking for
    /// bad values after `passes` passes over the configuration (each bad
    /// value costs one), so there may be more than those listed.
    NotSearched {
        /// How many passes the loader made.
        passes: usize,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Problem {
            key,
            source,
            line,
            kind,
        } = self;
        let source = match line {
            Some(line) => format!("{source}:{line}"),
            None => source.to_string(),
        };
        match kind {
            ProblemKind::UnknownKey { suggestion } => {
                write!(f, "`{key}` ({source}): unknown key")?;
                match suggestion {
                    Some(known) => write!(f, "; did you mean `{known}`?"),
                    None => f.write_str(
                        "; remove it, or accept unknown keys with Loader::allow_unknown_keys(true)",
                    ),
                }
            }
            ProblemKind::BadValue { message } => write!(f, "`{key}` ({source}): {message}"),
            ProblemKind::Missing => write!(
                f,
                "`{key}` is required but no layer sets it; add it to a config file, \
                 an environment variable or --set"
            ),
            ProblemKind::Invalid { message } => write!(f, "`{key}` ({source}): {message}"),
            ProblemKind::NotSearched { passes } => write!(
                f,
                "the loader stopped looking after {passes} passes over the configuration; \
                 fix these and load again to find any others"
            ),
        }
    }
}
