//! The merged configuration tree: every layer writes its leaves into one table,
//! and [`Provenance`] remembers which layer wrote each key.

use std::collections::BTreeMap;

use crate::source::Source;

/// A key path, one segment per nesting level (`["grpc", "listen"]`).
pub(crate) type KeyPath = Vec<String>;

/// The deepest key an environment variable or `--set` may name. (TOML files
/// are bounded by the TOML parser.) Keeps every walk of the tree shallow.
pub(crate) const MAX_DEPTH: usize = 32;

/// A table of the merged tree. A key is either a nested table or a leaf, never both.
#[derive(Clone, Default)]
pub(crate) struct Table {
    pub(crate) tables: BTreeMap<String, Table>,
    pub(crate) leaves: BTreeMap<String, Leaf>,
}

/// One leaf value in the merged tree. Deliberately not `Debug`: it may hold secrets.
#[derive(Clone)]
pub(crate) enum Leaf {
    /// A typed value from a TOML file (arrays are kept whole).
    Value(toml::Value),
    /// Untyped text from an environment variable or `--set`; it is parsed as
    /// whatever type the settings struct asks for. `sensitive` text came from a
    /// secret file and is never quoted in an error.
    Text { text: String, sensitive: bool },
}

/// What was removed from the tree.
pub(crate) enum Removed {
    Table(Table),
    Leaf,
}

impl Table {
    /// The table at `path`, creating it (and replacing leaves on the way).
    pub(crate) fn table_mut(&mut self, path: &[String]) -> &mut Table {
        let mut table = self;
        for segment in path {
            table.leaves.remove(segment);
            table = table.tables.entry(segment.clone()).or_default();
        }
        table
    }

    /// Sets the leaf at `path` (which must not be empty), replacing a table there.
    pub(crate) fn set(&mut self, path: &[String], leaf: Leaf) {
        if let Some((last, parents)) = path.split_last() {
            let parent = self.table_mut(parents);
            parent.tables.remove(last);
            parent.leaves.insert(last.clone(), leaf);
        }
    }

    /// The leaf at `path`, if there is one.
    pub(crate) fn leaf(&self, path: &[String]) -> Option<&Leaf> {
        let (last, parents) = path.split_last()?;
        let mut table = self;
        for segment in parents {
            table = table.tables.get(segment)?;
        }
        table.leaves.get(last)
    }

    /// Whether there is a leaf or a table at exactly `path` (which must not be empty).
    pub(crate) fn contains(&self, path: &[String]) -> bool {
        let Some((last, parents)) = path.split_last() else {
            return false;
        };
        let mut table = self;
        for segment in parents {
            match table.tables.get(segment) {
                Some(inner) => table = inner,
                None => return false,
            }
        }
        table.leaves.contains_key(last) || table.tables.contains_key(last)
    }

    /// Whether the tree has no keys at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.leaves.is_empty()
    }

    /// Removes the entry at the longest prefix of `path` that exists in the
    /// tree; returns the removed path and what was there, or `None` when not
    /// even the first segment exists.
    pub(crate) fn remove_deepest(&mut self, path: &[String]) -> Option<(KeyPath, Removed)> {
        let (first, rest) = path.split_first()?;
        if self.leaves.remove(first).is_some() {
            return Some((vec![first.clone()], Removed::Leaf));
        }
        let inner = self.tables.get_mut(first)?;
        if let Some((mut found, removed)) = inner.remove_deepest(rest) {
            found.insert(0, first.clone());
            return Some((found, removed));
        }
        let table = self.tables.remove(first)?;
        Some((vec![first.clone()], Removed::Table(table)))
    }

    /// How many tables and leaves the tree holds, all levels together.
    pub(crate) fn size(&self) -> usize {
        self.leaves.len() + self.tables.len() + self.tables.values().map(Table::size).sum::<usize>()
    }

    /// Every key path in the tree: tables and leaves (arrays count as leaves).
    pub(crate) fn paths(&self) -> Vec<KeyPath> {
        let mut out = Vec::new();
        collect_paths(self, &mut Vec::new(), &mut out, true);
        out
    }

    /// The leaf key paths, plus empty tables.
    pub(crate) fn leaf_paths(&self) -> Vec<KeyPath> {
        let mut out = Vec::new();
        collect_paths(self, &mut Vec::new(), &mut out, false);
        out
    }
}

fn collect_paths(table: &Table, prefix: &mut KeyPath, out: &mut Vec<KeyPath>, tables: bool) {
    for (key, inner) in &table.tables {
        prefix.push(key.clone());
        if tables || inner.is_empty() {
            out.push(prefix.clone());
        }
        collect_paths(inner, prefix, out, tables);
        prefix.pop();
    }
    for key in table.leaves.keys() {
        prefix.push(key.clone());
        out.push(prefix.clone());
        prefix.pop();
    }
}

impl From<toml::Table> for Table {
    fn from(table: toml::Table) -> Self {
        let mut out = Table::default();
        for (key, value) in table {
            match value {
                toml::Value::Table(inner) => {
                    out.tables.insert(key, Table::from(inner));
                }
                other => {
                    out.leaves.insert(key, Leaf::Value(other));
                }
            }
        }
        out
    }
}

/// Which layer set each key: leaf keys, and tables a file mentioned.
#[derive(Clone, Debug, Default)]
pub(crate) struct Provenance {
    sources: BTreeMap<KeyPath, Source>,
    /// The line of each key set by a file, where known.
    lines: BTreeMap<KeyPath, usize>,
}

impl Provenance {
    /// Records that `source` set `path`, forgetting what earlier layers set below it.
    pub(crate) fn record(&mut self, path: &[String], source: &Source) {
        let below: Vec<KeyPath> = self
            .sources
            .range(path.to_vec()..)
            .take_while(|(key, _)| key.starts_with(path))
            .map(|(key, _)| key.clone())
            .collect();
        for key in below {
            self.sources.remove(&key);
            self.lines.remove(&key);
        }
        self.sources.insert(path.to_vec(), source.clone());
    }

    /// The line of the file where the layer that set `path` set it.
    pub(crate) fn line(&self, path: &[String]) -> Option<usize> {
        self.lines.get(path).copied()
    }

    /// Records that `source` named the table `path` (keeps what is known below it).
    pub(crate) fn mention(&mut self, path: &[String], source: &Source) {
        self.sources
            .entry(path.to_vec())
            .or_insert_with(|| source.clone());
    }

    /// Whether any layer set or named `path` or a key below it (a key only
    /// the defaults hold is untouched).
    pub(crate) fn touches(&self, path: &[String]) -> bool {
        self.sources
            .range(path.to_vec()..)
            .next()
            .is_some_and(|(key, _)| key.starts_with(path))
    }

    /// The layer that set exactly `path`.
    pub(crate) fn exact(&self, path: &[String]) -> Option<&Source> {
        self.sources.get(path)
    }

    /// The best answer to "who set this key?" for an error message: the key
    /// itself, else something below it, else the nearest table above it.
    pub(crate) fn blame(&self, path: &[String]) -> Source {
        if let Some(source) = self.sources.get(path) {
            return source.clone();
        }
        // Keys below `path` sort right after it, so the first key from
        // `path` on is below it or none is (a `find` here scanned every later
        // key for each problem: quadratic in a large file's problems).
        if let Some((_, source)) = self
            .sources
            .range(path.to_vec()..)
            .next()
            .filter(|(key, _)| key.starts_with(path))
        {
            return source.clone();
        }
        (0..path.len())
            .rev()
            .find_map(|len| self.sources.get(&path[..len]))
            .cloned()
            .unwrap_or(Source::Default)
    }
}

/// Merges a whole file into the tree, recording `source` for every key it names.
pub(crate) fn merge_file(
    tree: &mut Table,
    provenance: &mut Provenance,
    file: FileLayer,
    source: &Source,
) {
    let mut prefix = Vec::new();
    merge_table(tree, provenance, file.table, source, &mut prefix);
    for (path, line) in file.lines {
        if provenance.exact(&path) == Some(source) {
            provenance.lines.insert(path, line);
        }
    }
}

/// A parsed config file: its keys, and the line each key is on.
pub(crate) struct FileLayer {
    pub(crate) table: Table,
    pub(crate) lines: BTreeMap<KeyPath, usize>,
}

fn merge_table(
    tree: &mut Table,
    provenance: &mut Provenance,
    file: Table,
    source: &Source,
    prefix: &mut KeyPath,
) {
    for (key, inner) in file.tables {
        prefix.push(key);
        tree.table_mut(prefix);
        provenance.mention(prefix, source);
        merge_table(tree, provenance, inner, source, prefix);
        prefix.pop();
    }
    for (key, leaf) in file.leaves {
        prefix.push(key);
        tree.set(prefix, leaf);
        provenance.record(prefix, source);
        prefix.pop();
    }
}

/// A key path as a user writes it: `grpc.listen` (segments that are not bare
/// TOML keys are quoted).
pub(crate) fn dotted(path: &[String]) -> String {
    let mut out = String::new();
    for (i, segment) in path.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(&toml_key(segment));
    }
    out
}

/// A TOML key: bare when it can be, else a quoted basic string.
pub(crate) fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_owned()
    } else {
        toml::Value::String(key.to_owned()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(dotted: &str) -> KeyPath {
        dotted.split('.').map(str::to_owned).collect()
    }

    fn text(value: &str) -> Leaf {
        Leaf::Text {
            text: value.to_owned(),
            sensitive: false,
        }
    }

    #[test]
    fn a_leaf_replaces_a_table_and_a_table_replaces_a_leaf() {
        let mut tree = Table::default();
        tree.set(&path("a.b.c"), text("1"));
        tree.set(&path("a.b"), text("2"));
        assert!(tree.leaf(&path("a.b")).is_some());
        assert!(tree.leaf(&path("a.b.c")).is_none());
        tree.set(&path("a.b.d"), text("3"));
        assert!(tree.leaf(&path("a.b")).is_none());
        assert_eq!(tree.leaf_paths(), [path("a.b.d")]);
    }

    #[test]
    fn remove_deepest_removes_the_longest_existing_prefix() {
        let mut tree = Table::default();
        tree.set(&path("a.b"), text("1"));
        tree.set(&path("a.c"), text("2"));
        let (gone, _) = tree.remove_deepest(&path("a.b.x.y")).unwrap();
        assert_eq!(gone, path("a.b"));
        let (gone, _) = tree.remove_deepest(&path("a.z")).unwrap();
        assert_eq!(gone, path("a"));
        assert!(tree.remove_deepest(&path("q")).is_none());
        assert!(tree.is_empty());
    }

    #[test]
    fn provenance_forgets_what_a_later_layer_replaced() {
        let mut provenance = Provenance::default();
        provenance.record(&path("a.b"), &Source::Set);
        provenance.mention(&path("a"), &Source::Default);
        provenance.record(&path("a"), &Source::Env("X".to_owned()));
        assert_eq!(provenance.exact(&path("a.b")), None);
        assert_eq!(provenance.blame(&path("a.b")), Source::Env("X".to_owned()));
    }

    #[test]
    fn keys_that_are_not_bare_are_quoted() {
        assert_eq!(
            dotted(&["grpc".to_owned(), "a b".to_owned()]),
            "grpc.\"a b\""
        );
    }
}
