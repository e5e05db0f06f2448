//! Layer 5: environment variables with the service prefix.
//!
//! `HELLO_SERVICE__GRPC__LISTEN` sets `grpc.listen`: after the prefix, `__`
//! separates nesting levels and each segment is lower-cased, so a single `_`
//! stays part of a key (`HELLO_SERVICE__SERVICE__RUNBOOK_URL` → `service.runbook_url`).
//! `…_FILE` variables name a file whose content is the value (secrets).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use crate::bounded::{self, MAX_SECRET_FILE_BYTES, ReadError};
use crate::error::ConfigError;
use crate::source::Source;
use crate::tree::{KeyPath, Leaf};

/// One key set by one environment variable.
pub(crate) struct EnvSetting {
    pub(crate) path: KeyPath,
    pub(crate) leaf: Leaf,
    pub(crate) source: Source,
}

/// The settings the variables with `prefix` make. `vars` holds `None` for a
/// value that is not UTF-8. `known` are the keys the settings type is known to
/// have; a key ending in `_file` that is known is an ordinary key, not a secret file.
pub(crate) fn settings(
    prefix: &str,
    vars: &BTreeMap<String, Option<String>>,
    known: &BTreeSet<KeyPath>,
) -> Result<Vec<EnvSetting>, ConfigError> {
    let lead = format!("{prefix}__");
    let mut out = Vec::new();
    let mut seen: BTreeMap<KeyPath, String> = BTreeMap::new();
    for (var, value) in vars {
        let Some(rest) = var.strip_prefix(&lead) else {
            continue;
        };
        let error = |message: String| ConfigError::Env {
            var: var.clone(),
            message,
        };
        let mut path = Vec::new();
        for segment in rest.split("__") {
            if segment.is_empty() {
                return Err(error(format!(
                    "empty key segment; write one `__` between nesting levels, \
                     e.g. {lead}GRPC__LISTEN"
                )));
            }
            if !segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(error(
                    "a key segment may only hold letters, digits and `_`".to_owned(),
                ));
            }
            path.push(segment.to_ascii_lowercase());
        }
        if path.len() > crate::tree::MAX_DEPTH {
            return Err(error(format!(
                "the key is nested more than {} levels deep",
                crate::tree::MAX_DEPTH
            )));
        }
        let Some(value) = value else {
            return Err(error("the value is not valid UTF-8".to_owned()));
        };
        let secret_file = match path.last() {
            Some(last) if last.len() > "_file".len() && last.ends_with("_file") => {
                !known.contains(&path)
            }
            _ => false,
        };
        let setting = if secret_file {
            if let Some(last) = path.last_mut() {
                last.truncate(last.len() - "_file".len());
            }
            let file = PathBuf::from(value);
            let text = read_secret(var, &file)?;
            EnvSetting {
                path,
                leaf: Leaf::Text {
                    text,
                    sensitive: true,
                },
                source: Source::EnvFile {
                    var: var.clone(),
                    path: file,
                },
            }
        } else {
            EnvSetting {
                path,
                leaf: Leaf::Text {
                    text: value.clone(),
                    sensitive: false,
                },
                source: Source::Env(var.clone()),
            }
        };
        if let Some(other) = seen.insert(setting.path.clone(), var.clone()) {
            return Err(error(format!(
                "{other} sets the same key `{}`; set it only once",
                crate::tree::dotted(&setting.path)
            )));
        }
        out.push(setting);
    }
    Ok(out)
}

/// A secret file's content without its trailing newline. The read is
/// bounded ([`MAX_SECRET_FILE_BYTES`]) and an empty file is an error: the
/// deserialiser reads blank text as "not set", and a token file that exists
/// but was not written yet must not silently turn the token check off.
fn read_secret(var: &str, path: &Path) -> Result<String, ConfigError> {
    let bytes = bounded::read(path, MAX_SECRET_FILE_BYTES).map_err(|error| match error {
        ReadError::Io(source) => ConfigError::SecretFile {
            var: var.to_owned(),
            path: path.to_owned(),
            source,
        },
        ReadError::TooLarge => ConfigError::SecretFileTooLarge {
            var: var.to_owned(),
            path: path.to_owned(),
            limit: MAX_SECRET_FILE_BYTES,
        },
    })?;
    let mut text = String::from_utf8(bytes).map_err(|_| ConfigError::SecretFile {
        var: var.to_owned(),
        path: path.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidData, "the file is not valid UTF-8"),
    })?;
    while text.ends_with('\n') || text.ends_with('\r') {
        text.pop();
    }
    if text.trim().is_empty() {
        return Err(ConfigError::SecretFileEmpty {
            var: var.to_owned(),
            path: path.to_owned(),
        });
    }
    Ok(text)
}
