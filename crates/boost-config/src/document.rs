//! [`Document`]: the doc comment of every key, for a generated reference file.

/// Describes a settings type's keys with their doc comments, so that a
/// reference configuration file can be generated from the type itself
/// ([`reference_toml`](crate::reference_toml)): every key, its default and
/// what it means, where operators look.
///
/// Derive it: `#[derive(Document)]` records each field's `///` comment (and
/// recurses into the field's own type), honouring `#[serde(rename = "…")]`.
/// A derived struct also implements `Default` and `Serialize`, so the
/// reference file can show its defaults when it is unset (an `Option`).
///
/// ```
/// use boost_config::{Document, Docs};
///
/// #[derive(Default, serde::Serialize, Document)]
/// struct Pool {
///     /// Connections kept open.
///     size: u32,
/// }
///
/// #[derive(Default, serde::Serialize, Document)]
/// struct Settings {
///     /// The database pool.
///     db: Pool,
/// }
///
/// let docs = Docs::of::<Settings>();
/// assert_eq!(docs.get("db.size"), Some("Connections kept open."));
/// assert_eq!(docs.get("db"), Some("The database pool."));
/// ```
pub trait Document {
    /// Adds the doc comment of each key of this type to `docs`. The default
    /// adds nothing: right for scalars, strings, lists and maps.
    fn document(docs: &mut Docs) {
        let _ = docs;
    }

    /// This type's default as a table, when it is a section: the reference
    /// file shows a section that is unset by default (an `Option` of it)
    /// commented out with these values. The derive fills it in for structs
    /// (which must implement `Default` and `Serialize`).
    #[doc(hidden)]
    fn sample() -> Option<toml::Table> {
        None
    }
}

/// The derive's [`Document::sample`] for a struct.
#[doc(hidden)]
pub fn __sample<T: Default + serde::Serialize>() -> Option<toml::Table> {
    toml::Table::try_from(T::default()).ok()
}

/// The doc comments of a settings type's keys, by full dotted path, in
/// declaration order.
#[derive(Clone, Debug, Default)]
pub struct Docs {
    prefix: Vec<String>,
    entries: Vec<(String, String)>,
    samples: Vec<(String, toml::Table)>,
}

impl Docs {
    /// The docs of `T`'s keys.
    pub fn of<T: Document + ?Sized>() -> Self {
        let mut docs = Self::default();
        T::document(&mut docs);
        docs
    }

    /// Records the field `name` of the type being documented, with its doc
    /// comment, then the keys of its type `T` below it. Derived
    /// [`Document`] impls call this once per field.
    pub fn field<T: Document + ?Sized>(&mut self, name: &str, doc: &str) {
        self.prefix.push(name.to_owned());
        self.entries.push((self.prefix.join("."), clean(doc)));
        if let Some(sample) = T::sample() {
            self.samples.push((self.prefix.join("."), sample));
        }
        T::document(self);
        self.prefix.pop();
    }

    /// Records the keys of `T` as if they were this type's own (a
    /// `#[serde(flatten)]` field).
    pub fn flatten<T: Document + ?Sized>(&mut self) {
        T::document(self);
    }

    /// The doc comment of the key `path` (dotted), if it has one.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(key, _)| key == path)
            .map(|(_, doc)| doc.as_str())
            .filter(|doc| !doc.is_empty())
    }

    /// The default of the section at `path`, for one unset by default.
    pub(crate) fn sample(&self, path: &str) -> Option<&toml::Table> {
        self.samples
            .iter()
            .find(|(key, _)| key == path)
            .map(|(_, t)| t)
    }

    /// The position of `path` in declaration order, for ordering keys.
    pub(crate) fn position(&self, path: &str) -> Option<usize> {
        self.entries.iter().position(|(key, _)| key == path)
    }

    /// The documented keys directly below `section` (dotted; empty: the top).
    pub(crate) fn children<'a>(&'a self, section: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries.iter().filter_map(move |(key, _)| {
            let rest = if section.is_empty() {
                key.as_str()
            } else {
                key.strip_prefix(section)?.strip_prefix('.')?
            };
            (!rest.contains('.')).then_some(rest)
        })
    }
}

/// A rustdoc comment as plain text: links and code spans become their text,
/// so `[`ServerSettings`](crate::server::ServerSettings)` reads `ServerSettings`.
fn clean(doc: &str) -> String {
    let mut out = String::with_capacity(doc.len());
    let mut rest = doc.trim();
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let inner = &after[..close];
        let tail = &after[close + 1..];
        if let Some(target) = tail.strip_prefix('(')
            && let Some(end) = target.find(')')
        {
            // `[text](target)`: the text.
            out.push_str(inner.trim_matches('`'));
            rest = &target[end + 1..];
        } else if inner.len() > 1 && inner.starts_with('`') && inner.ends_with('`') {
            // An intra-doc link, `[`Secret`]`: the name.
            out.push_str(inner.trim_matches('`'));
            rest = tail;
        } else {
            // Not a link: `[REDACTED]`, `[0.005, 0.01]`.
            out.push('[');
            out.push_str(inner);
            out.push(']');
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

macro_rules! no_keys {
    ($($ty:ty),* $(,)?) => {
        $(impl Document for $ty {})*
    };
}

leaf_types!(no_keys);
no_keys!(std::time::Duration);

impl<T: Document + ?Sized> Document for Box<T> {
    fn document(docs: &mut Docs) {
        T::document(docs);
    }
}

impl<T: Document + ?Sized> Document for std::sync::Arc<T> {
    fn document(docs: &mut Docs) {
        T::document(docs);
    }
}

impl<T: Document> Document for Option<T> {
    fn document(docs: &mut Docs) {
        T::document(docs);
    }

    fn sample() -> Option<toml::Table> {
        T::sample()
    }
}

impl<T: Document> Document for crate::Secret<T> {}

/// Items have no names to document.
impl<T> Document for Vec<T> {}

/// Entries are named by the user, not the type.
impl<K, V> Document for std::collections::BTreeMap<K, V> {}

/// Entries are named by the user, not the type.
impl<K, V, H> Document for std::collections::HashMap<K, V, H> {}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn rustdoc_links_become_their_text() {
        assert_eq!(
            clean(
                "Per-call limits ([`ServerSettings`](crate::server::ServerSettings)). Default: `1s`."
            ),
            "Per-call limits (ServerSettings). Default: `1s`."
        );
        assert_eq!(clean("See [`Secret`]."), "See Secret.");
        assert_eq!(clean("an unclosed [bracket"), "an unclosed [bracket");
        assert_eq!(clean("[a](b) and [`c`]"), "a and c");
    }

    #[test]
    fn brackets_that_are_not_links_stay() {
        assert_eq!(clean("shown as \"[REDACTED]\""), "shown as \"[REDACTED]\"");
        assert_eq!(clean("e.g. [0.005, 0.01]"), "e.g. [0.005, 0.01]");
    }
}
