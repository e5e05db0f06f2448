//! Reading the TOML files of layers 2–4 (and `--config`).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use crate::error::ConfigError;
use crate::tree::{FileLayer, KeyPath, Table};

/// Reads a TOML file. A missing file is `Ok(None)` unless `required_by` names
/// the flag that asked for it.
pub(crate) fn read(
    path: &Path,
    required_by: Option<&'static str>,
) -> Result<Option<FileLayer>, ConfigError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return match required_by {
                Some(flag) => Err(ConfigError::MissingFile {
                    path: path.to_owned(),
                    flag,
                }),
                None => Ok(None),
            };
        }
        Err(source) => {
            return Err(ConfigError::ReadFile {
                path: path.to_owned(),
                source,
            });
        }
    };
    parse(path, bytes).map(Some)
}

/// Parses a file's bytes as a TOML table.
pub(crate) fn parse(path: &Path, bytes: Vec<u8>) -> Result<FileLayer, ConfigError> {
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
            let before = String::from_utf8_lossy(valid);
            let (line, column) = line_column(&before, before.len());
            return Err(ConfigError::Parse {
                path: path.to_owned(),
                line: Some(line),
                column: Some(column),
                message: "the file is not valid UTF-8".to_owned(),
            });
        }
    };
    match toml::from_str::<toml::Table>(&text) {
        Ok(table) => Ok(FileLayer {
            table: Table::from(table),
            lines: key_lines(&text),
        }),
        Err(error) => {
            let (line, column) = match error.span() {
                Some(span) => {
                    let (line, column) = line_column(&text, span.start);
                    (Some(line), Some(column))
                }
                None => (None, None),
            };
            Err(ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: error.message().trim().to_owned(),
            })
        }
    }
}

/// The line of every key in `text` (which has parsed as TOML already).
fn key_lines(text: &str) -> BTreeMap<KeyPath, usize> {
    let mut lines = BTreeMap::new();
    if let Ok(table) = DeTable::parse(text) {
        collect_lines(text, table.get_ref(), &mut Vec::new(), &mut lines);
    }
    lines
}

fn collect_lines(
    text: &str,
    table: &DeTable<'_>,
    prefix: &mut KeyPath,
    lines: &mut BTreeMap<KeyPath, usize>,
) {
    for (key, value) in table {
        prefix.push(key.get_ref().to_string());
        lines.insert(prefix.clone(), line_column(text, key.span().start).0);
        if let DeValue::Table(inner) = value.get_ref() {
            collect_lines(text, inner, prefix, lines);
        }
        prefix.pop();
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    (line, column)
}
