//! Layer 1: the settings type's own `T::default()`, as the base tree every
//! other layer merges over.
//!
//! Without it, a layer that names one key of a section (`[profiles]
//! timeout = "1s"`) makes serde rebuild the whole section from the *section
//! type's* `Default`, losing every value `T::default()` sets differently.
//!
//! Two kinds of default cannot be seeded, and are left to serde as before:
//! secrets, which serialise as [`MASK`] (seeding them would turn a default
//! secret into the literal text `[REDACTED]`) or, for an
//! [`Endpoint`](crate::Endpoint) with credentials, as a URL with `***@`
//! (seeding it would lose the credentials), and values that serialise as
//! nothing (`None`, `skip_serializing_if`). A top-level section no layer names
//! is not seeded at all, so serde takes it whole from `T::default()`, secrets
//! included.
//!
//! Maps are not merged with their default entries: when a layer names a map,
//! the deserialiser (`de`) skips its seeded entries, so the layers'
//! entries replace the default map (and a file can leave an entry out).

use crate::endpoint;
use crate::secret::MASK;
use crate::tree::{Leaf, Provenance, Table};

/// The serialised defaults without masked (secret) leaves.
pub(crate) fn seed(defaults: &Table) -> Table {
    Table {
        tables: defaults
            .tables
            .iter()
            .map(|(key, inner)| (key.clone(), seed(inner)))
            .collect(),
        leaves: defaults
            .leaves
            .iter()
            .filter(|(_, leaf)| !matches!(leaf, Leaf::Value(value) if masked(value)))
            .map(|(key, leaf)| (key.clone(), leaf.clone()))
            .collect(),
    }
}

/// Removes the top-level keys no layer set anything at or below, so that
/// serde fills them from `T::default()` exactly (secrets included).
pub(crate) fn prune_untouched(tree: &mut Table, provenance: &Provenance) {
    tree.tables
        .retain(|key, _| provenance.touches(std::slice::from_ref(key)));
    tree.leaves
        .retain(|key, _| provenance.touches(std::slice::from_ref(key)));
}

/// Whether a serialised default holds a masked secret (or a URL with masked
/// credentials) anywhere inside it.
fn masked(value: &toml::Value) -> bool {
    match value {
        toml::Value::String(text) => text == MASK || endpoint::is_masked(text),
        toml::Value::Array(items) => items.iter().any(masked),
        toml::Value::Table(table) => table.values().any(masked),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    fn table(text: &str) -> Table {
        Table::from(text.parse::<toml::Table>().unwrap_or_default())
    }

    #[test]
    fn masked_secrets_are_not_seeded() {
        let seeded = seed(&table(
            "[db]\npassword = \"[REDACTED]\"\npool = 8\npins = [\"[REDACTED]\"]\n",
        ));
        let db = &seeded.tables["db"];
        assert!(db.leaves.contains_key("pool"));
        assert!(!db.leaves.contains_key("password"));
        assert!(!db.leaves.contains_key("pins"));
    }

    #[test]
    fn urls_with_masked_credentials_are_not_seeded() {
        let seeded = seed(&table(
            "[otlp]\nendpoint = \"https://***@collector:4317\"\nplain = \"http://collector:4317\"\n",
        ));
        let otlp = &seeded.tables["otlp"];
        assert!(!otlp.leaves.contains_key("endpoint"));
        assert!(otlp.leaves.contains_key("plain"));
    }

    #[test]
    fn only_sections_a_layer_touched_stay() {
        let mut tree = seed(&table("top = 1\n[a]\nx = 1\n[b]\ny = 2\n"));
        let mut provenance = Provenance::default();
        provenance.record(&["b".to_owned(), "z".to_owned()], &Source::Set);
        prune_untouched(&mut tree, &provenance);
        assert!(tree.leaves.is_empty());
        assert_eq!(tree.tables.keys().collect::<Vec<_>>(), ["b"]);
    }
}
