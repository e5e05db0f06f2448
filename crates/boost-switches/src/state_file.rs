//! The `local` backend: overrides in a small JSON file, rewritten atomically.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::SwitchError;
use crate::store::Override;

/// Largest state file read at start: 256 switches' overrides fit in a few
/// tens of KiB; anything bigger is not ours.
const MAX_STATE_FILE: u64 = 1024 * 1024;

/// The file's contents: a version, then each overridden switch.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct State {
    pub(crate) version: u32,
    pub(crate) overrides: BTreeMap<String, Override>,
}

/// The state in `path`; empty when the file does not exist yet.
pub(crate) fn read(path: &Path) -> Result<State, SwitchError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
        Err(source) => return Err(SwitchError::state_io(path, "open", source)),
    };
    let mut text = String::new();
    file.take(MAX_STATE_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|source| SwitchError::state_io(path, "read", source))?;
    if text.len() as u64 > MAX_STATE_FILE {
        return Err(SwitchError::StateFile {
            path: path.to_owned(),
            problem: format!(
                "is larger than {MAX_STATE_FILE} bytes, far more than any switch state; \
                 it is not a switches state file: move it away (overrides are lost) \
                 or point switches.state_file elsewhere"
            ),
        });
    }
    let state: State = serde_json::from_str(&text).map_err(|e| SwitchError::StateFile {
        path: path.to_owned(),
        problem: format!(
            "is not a switches state file ({e}); fix it or move it away \
             (the switches then start at their defaults)"
        ),
    })?;
    if state.version != 1 {
        return Err(SwitchError::StateFile {
            path: path.to_owned(),
            problem: format!(
                "has version {}, which this release does not know (it writes version 1)",
                state.version
            ),
        });
    }
    Ok(state)
}

/// [`write`] on the blocking pool, so the fsyncs do not hold a runtime
/// worker (and every call it serves) for milliseconds; in place outside a
/// runtime.
pub(crate) async fn write_async(
    path: &Path,
    overrides: BTreeMap<String, Override>,
) -> Result<(), SwitchError> {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return write(path, &overrides);
    };
    let owned = path.to_owned();
    runtime
        .spawn_blocking(move || write(&owned, &overrides))
        .await
        .map_err(|e| SwitchError::StateFile {
            path: path.to_owned(),
            problem: format!(
                "the write was interrupted ({e}); the state file is the old one or the new one"
            ),
        })?
}

/// Writes `state` to `path` so that a crash leaves the old file or the new
/// one, never half of one: a temporary file beside it, fsync, rename, fsync
/// of the directory.
pub(crate) fn write(
    path: &Path,
    overrides: &BTreeMap<String, Override>,
) -> Result<(), SwitchError> {
    let state = StateRef {
        version: 1,
        overrides,
    };
    let mut bytes = serde_json::to_vec_pretty(&state).map_err(|e| SwitchError::StateFile {
        path: path.to_owned(),
        problem: format!("could not be encoded: {e}"),
    })?;
    bytes.push(b'\n');
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|source| SwitchError::state_io(&dir, "create", source))?;
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    result.map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        SwitchError::state_io(path, "write", source)
    })
}

#[derive(Serialize)]
struct StateRef<'a> {
    version: u32,
    overrides: &'a BTreeMap<String, Override>,
}
