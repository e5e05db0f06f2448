//! Reading the TOML files of layers 2–4 (and `--config`).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use crate::bounded::{self, MAX_CONFIG_FILE_BYTES, ReadError};
use crate::depth;
use crate::error::ConfigError;
use crate::tree::{FileLayer, KeyPath, Table};

/// Reads a TOML file. A missing file is `Ok(None)` unless `required_by` names
/// the flag that asked for it.
pub(crate) fn read(
    path: &Path,
    required_by: Option<&'static str>,
) -> Result<Option<FileLayer>, ConfigError> {
    let bytes = match bounded::read(path, MAX_CONFIG_FILE_BYTES) {
        Ok(bytes) => bytes,
        Err(ReadError::Io(error)) if error.kind() == io::ErrorKind::NotFound => {
            return match required_by {
                Some(flag) => Err(ConfigError::MissingFile {
                    path: path.to_owned(),
                    flag,
                }),
                None => Ok(None),
            };
        }
        Err(ReadError::Io(source)) => {
            return Err(ConfigError::ReadFile {
                path: path.to_owned(),
                source,
            });
        }
        Err(ReadError::TooLarge) => {
            return Err(ConfigError::FileTooLarge {
                path: path.to_owned(),
                limit: MAX_CONFIG_FILE_BYTES,
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
    // Before the parser: past its own limits, deep nesting overflows the stack.
    if let Err(at) = depth::check(&text) {
        return Err(ConfigError::Parse {
            path: path.to_owned(),
            line: Some(at.line),
            column: Some(at.column),
            message: depth::TooDeep::message(),
        });
    }
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
/// Linear in the file: each key's line is a binary search in the offsets
/// where lines start, not a count of the line breaks before it.
fn key_lines(text: &str) -> BTreeMap<KeyPath, usize> {
    let mut lines = BTreeMap::new();
    if let Ok(table) = DeTable::parse(text) {
        let starts = LineStarts::of(text);
        collect_lines(&starts, table.get_ref(), &mut Vec::new(), &mut lines);
    }
    lines
}

/// The byte offsets where the lines of a text start.
struct LineStarts(Vec<usize>);

impl LineStarts {
    fn of(text: &str) -> Self {
        let breaks = text.match_indices('\n').map(|(at, _)| at + 1);
        Self(std::iter::once(0).chain(breaks).collect())
    }

    /// The 1-based line holding byte offset `at`.
    fn line(&self, at: usize) -> usize {
        self.0.partition_point(|&start| start <= at).max(1)
    }
}

fn collect_lines(
    starts: &LineStarts,
    table: &DeTable<'_>,
    prefix: &mut KeyPath,
    lines: &mut BTreeMap<KeyPath, usize>,
) {
    for (key, value) in table {
        prefix.push(key.get_ref().to_string());
        lines.insert(prefix.clone(), starts.line(key.span().start));
        if let DeValue::Table(inner) = value.get_ref() {
            collect_lines(starts, inner, prefix, lines);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lines_agree_with_counting_line_breaks() {
        let text = "a = 1\n\n[b]\nc = 2\n  d = 3\n";
        let starts = LineStarts::of(text);
        for at in 0..text.len() {
            assert_eq!(starts.line(at), line_column(text, at).0, "offset {at}");
        }
        let lines = key_lines(text);
        assert_eq!(lines[&vec!["b".to_owned(), "d".to_owned()]], 5);
    }
}
