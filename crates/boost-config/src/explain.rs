//! Rendering the effective configuration as TOML with provenance comments.

use std::fmt::Write as _;

use crate::secret::MASK;
use crate::source::Source;
use crate::tree::{KeyPath, Provenance, dotted, toml_key};

/// Renders `value` as TOML, one `# <source>` comment per leaf. Values read
/// from secret files are masked whatever their type.
pub(crate) fn render(header: &str, value: &toml::Table, provenance: &Provenance) -> String {
    let mut body = String::new();
    let mut path = Vec::new();
    table(&mut body, &mut path, value, provenance);
    format!("{header}\n{}", body.trim_start_matches('\n'))
}

fn table(out: &mut String, path: &mut KeyPath, value: &toml::Table, provenance: &Provenance) {
    let mut lines = Vec::new();
    for (key, item) in value {
        if item.is_table() {
            continue;
        }
        path.push(key.clone());
        let source = provenance.exact(path).cloned().unwrap_or(Source::Default);
        let shown = match source {
            Source::EnvFile { .. } => toml::Value::String(MASK.to_owned()).to_string(),
            _ => shown(item),
        };
        lines.push((format!("{} = {shown}", toml_key(key)), source));
        path.pop();
    }
    let width = lines
        .iter()
        .map(|(line, _)| line.chars().count())
        .filter(|len| *len <= 48)
        .max()
        .unwrap_or(0);
    for (line, source) in lines {
        let _ = writeln!(out, "{line:<width$}  # {source}");
    }
    for (key, item) in value {
        if let toml::Value::Table(inner) = item {
            path.push(key.clone());
            let _ = writeln!(out, "\n[{}]", dotted(path));
            table(out, path, inner, provenance);
            path.pop();
        }
    }
}

/// A value as inline TOML. An `f32` field serialises as the nearest `f64`
/// (`0.2` → `0.20000000298023224`); such floats are shown in their short form.
fn shown(value: &toml::Value) -> String {
    if let toml::Value::Float(float) = value {
        let narrow = *float as f32;
        if float.is_finite()
            && f64::from(narrow) == *float
            && let Ok(short) = narrow.to_string().parse::<f64>()
        {
            return toml::Value::Float(short).to_string();
        }
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn f32_values_are_shown_in_short_form() {
        let widened = f64::from(0.2_f32);
        assert_eq!(shown(&toml::Value::Float(widened)), "0.2");
        assert_eq!(shown(&toml::Value::Float(0.1)), "0.1");
        assert_eq!(shown(&toml::Value::Float(1.0)), "1.0");
    }
}
