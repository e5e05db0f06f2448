//! [`reference_toml`]: a configuration file generated from the settings
//! types themselves — every key, its default and its doc comment.

use std::fmt::Write as _;

use serde::Serialize;

use crate::document::{Docs, Document};
use crate::tree::toml_key;

/// Renders `defaults` as a commented TOML file: each key with its default
/// value under its doc comment, each section under its own. Keys whose
/// default is unset (`None`) appear commented out, so every knob is listed
/// where operators look (foundations' `--generate`). `header` (already
/// `#`-commented or empty) opens the file.
///
/// A service prints it with `--print-default-config`; a test or CI step
/// compares it with a checked-in reference file so the file never drifts
/// from the code.
///
/// ```
/// use boost_config::{Document, reference_toml};
/// use serde::Serialize;
///
/// #[derive(Default, Serialize, Document)]
/// struct Pool {
///     /// Connections kept open.
///     size: u32,
///     /// Longest wait for a connection. Unset: wait forever.
///     #[serde(with = "boost_config::duration::option")]
///     wait: Option<std::time::Duration>,
/// }
///
/// #[derive(Default, Serialize, Document)]
/// struct Settings {
///     /// The database pool.
///     db: Pool,
/// }
///
/// let text = reference_toml(&Settings::default(), "");
/// let lines: Vec<&str> = text.lines().collect();
/// assert_eq!(lines, [
///     "# The database pool.",
///     "[db]",
///     "# Connections kept open.",
///     "size = 0",
///     "# Longest wait for a connection. Unset: wait forever.",
///     "# wait = (unset)",
/// ]);
/// ```
pub fn reference_toml<T: Serialize + Document>(defaults: &T, header: &str) -> String {
    let docs = Docs::of::<T>();
    let table = match toml::Table::try_from(defaults) {
        Ok(table) => table,
        Err(error) => return format!("{header}# cannot render the defaults as TOML: {error}\n"),
    };
    let mut out = String::from(header);
    render(&mut out, &table, ("", ""), &docs);
    out
}

/// `path` is the dotted key path (for the docs) and the TOML header of the
/// table (segments quoted where needed).
fn render(out: &mut String, table: &toml::Table, (path, header): (&str, &str), docs: &Docs) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    let order = |key: &str| docs.position(&join(key)).unwrap_or(usize::MAX);

    // Leaves first (TOML puts a table's own keys before its sub-tables),
    // then keys documented but unset, then sub-tables.
    let mut leaves: Vec<(&String, &toml::Value)> =
        table.iter().filter(|(_, v)| !is_table(v)).collect();
    leaves.sort_by_key(|(key, _)| order(key));
    for (key, value) in leaves {
        comment(out, docs.get(&join(key)));
        let _ = writeln!(out, "{} = {value}", toml_key(key));
    }
    let mut unset: Vec<&str> = docs
        .children(path)
        .filter(|key| !table.contains_key(*key))
        .collect();
    unset.dedup();
    let mut unset_sections = Vec::new();
    for key in unset {
        match docs.sample(&join(key)) {
            Some(sample) => unset_sections.push((key, sample)),
            None => {
                comment(out, docs.get(&join(key)));
                let _ = writeln!(out, "# {} = (unset)", toml_key(key));
            }
        }
    }
    let mut tables: Vec<(&String, &toml::Table)> = table
        .iter()
        .filter_map(|(key, value)| value.as_table().map(|t| (key, t)))
        .collect();
    tables.sort_by_key(|(key, _)| order(key));
    for (key, inner) in tables {
        let full = join(key);
        let quoted = toml_key(key);
        let inner_header = if header.is_empty() {
            quoted
        } else {
            format!("{header}.{quoted}")
        };
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        comment(out, docs.get(&full));
        let _ = writeln!(out, "[{inner_header}]");
        render(out, inner, (&full, &inner_header), docs);
    }
    // Sections unset by default: their defaults, commented out, to copy.
    for (key, sample) in unset_sections {
        let full = join(key);
        let quoted = toml_key(key);
        let inner_header = if header.is_empty() {
            quoted
        } else {
            format!("{header}.{quoted}")
        };
        let mut section = String::new();
        comment(&mut section, docs.get(&full));
        let _ = writeln!(section, "[{inner_header}]");
        render(&mut section, sample, (&full, &inner_header), docs);
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str("# Unset by default; uncomment to set:\n");
        for line in section.lines() {
            if line.starts_with('#') || line.is_empty() {
                let _ = writeln!(out, "{line}");
            } else {
                let _ = writeln!(out, "# {line}");
            }
        }
    }
}

fn is_table(value: &toml::Value) -> bool {
    value.is_table()
}

fn comment(out: &mut String, doc: Option<&str>) {
    for line in doc.unwrap_or_default().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            let _ = writeln!(out, "# {line}");
        }
    }
}

/// The keys whose values differ between `left` and `right` (as TOML), one
/// line each — `grpc.listen: "127.0.0.1:1" ≠ "127.0.0.1:2"` — for tests that
/// check a config file against the defaults and must say *which* keys differ
/// rather than print two whole dumps. Secrets compare masked.
///
/// ```
/// #[derive(serde::Serialize)]
/// struct Pool { size: u32, name: &'static str }
/// let lines = boost_config::differences(&Pool { size: 1, name: "a" }, &Pool { size: 2, name: "a" });
/// assert_eq!(lines, ["size: 1 ≠ 2"]);
/// ```
pub fn differences<A: Serialize, B: Serialize>(left: &A, right: &B) -> Vec<String> {
    let left = toml::Table::try_from(left).unwrap_or_default();
    let right = toml::Table::try_from(right).unwrap_or_default();
    let mut out = Vec::new();
    diff_tables(&left, &right, "", &mut out);
    out
}

fn diff_tables(left: &toml::Table, right: &toml::Table, path: &str, out: &mut Vec<String>) {
    let mut keys: Vec<&String> = left.keys().chain(right.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let full = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        match (left.get(key), right.get(key)) {
            (Some(toml::Value::Table(l)), Some(toml::Value::Table(r))) => {
                diff_tables(l, r, &full, out);
            }
            (Some(l), Some(r)) if l == r => {}
            (l, r) => {
                let show =
                    |v: Option<&toml::Value>| v.map_or("(unset)".to_owned(), |v| v.to_string());
                out.push(format!("{full}: {} ≠ {}", show(l), show(r)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Default, Serialize, Deserialize, crate::Document)]
    #[serde(default)]
    struct Dns {
        /// The name to resolve.
        name: String,
        /// Re-resolved this often.
        #[serde(with = "crate::duration")]
        refresh: std::time::Duration,
    }

    #[derive(Default, Serialize, Deserialize, crate::Document)]
    #[serde(default)]
    struct Client {
        /// Fixed endpoints.
        endpoints: Vec<String>,
        /// Instead of endpoints: a DNS name. Unset by default.
        dns: Option<Dns>,
        /// Longest call. Unset: no limit.
        #[serde(with = "crate::duration::option")]
        timeout: Option<std::time::Duration>,
    }

    #[derive(Default, Serialize, Deserialize, crate::Document)]
    #[serde(default)]
    struct Settings {
        /// The upstream.
        upstream: Client,
    }

    #[test]
    fn every_documented_key_appears_and_unset_sections_show_their_defaults_commented() {
        let text = reference_toml(&Settings::default(), "");
        for key in [
            "[upstream]",
            "endpoints = []",
            "# timeout = (unset)",
            "# [upstream.dns]",
            "# name = \"\"",
            "# refresh = \"0s\"",
            "# The name to resolve.",
        ] {
            assert!(text.contains(key), "missing {key:?}:\n{text}");
        }
        let parsed: Settings = toml::from_str(&text).unwrap_or_default();
        assert!(parsed.upstream.dns.is_none(), "commented out:\n{text}");
        let uncommented = text
            .replace("# [upstream.dns]", "[upstream.dns]")
            .replace("# name = ", "name = ");
        let parsed: Result<Settings, _> = toml::from_str(&uncommented);
        assert!(
            parsed.is_ok_and(|s| s.upstream.dns.is_some()),
            "uncommenting works:\n{uncommented}"
        );
    }
}
