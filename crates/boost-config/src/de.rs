//! A serde `Deserializer` over the merged tree.
//!
//! It does three things plain `toml` deserialisation cannot: it parses untyped
//! text from environment variables and `--set` as whatever type the field asks
//! for (`"8080"` as a `u16`, `"a,b"` as a list), it remembers the key path of the
//! first error, and it records keys a settings struct ignored (unknown keys in
//! structs without `deny_unknown_fields`).

use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
    value::MapAccessDeserializer,
};

use crate::tree::{KeyPath, Leaf, Provenance, Table};

/// A deserialisation error with the key path where it happened.
pub(crate) struct DeError {
    pub(crate) kind: DeErrorKind,
    pub(crate) path: Option<KeyPath>,
}

/// What went wrong while deserialising.
pub(crate) enum DeErrorKind {
    /// A struct with `deny_unknown_fields` met a key it does not have.
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    /// A required key had no value in any layer.
    MissingField(&'static str),
    /// Anything else (mostly "invalid type/value …, expected …").
    Message(String),
}

impl DeError {
    fn at(mut self, path: &[String]) -> Self {
        if self.path.is_none() {
            self.path = Some(path.to_vec());
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DeErrorKind::UnknownField { field, .. } => write!(f, "unknown field `{field}`"),
            DeErrorKind::MissingField(field) => write!(f, "missing field `{field}`"),
            DeErrorKind::Message(message) => f.write_str(message),
        }
    }
}

impl fmt::Debug for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self {
            kind: DeErrorKind::Message(msg.to_string()),
            path: None,
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Self {
            kind: DeErrorKind::UnknownField {
                field: field.to_owned(),
                expected,
            },
            path: None,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        Self {
            kind: DeErrorKind::MissingField(field),
            path: None,
        }
    }
}

fn from_toml(error: toml::de::Error) -> DeError {
    de::Error::custom(error.message())
}

/// A key a struct does not have, and the fields it does have.
pub(crate) type Unknown = (KeyPath, &'static [&'static str]);

/// Shared state of one deserialisation pass.
pub(crate) struct Ctx<'p> {
    /// Keys the settings type ignored.
    pub(crate) ignored: Cell<Vec<KeyPath>>,
    /// Keys of struct tables that are not fields of the struct. They are
    /// held back from serde and collected here, so that one pass finds every
    /// unknown key (serde's `deny_unknown_fields` stops at the first, and a
    /// pass per key made many unknown keys quadratic).
    pub(crate) unknown: Cell<Vec<Unknown>>,
    /// Which layer set each key: keys without one are seeded defaults.
    provenance: &'p Provenance,
}

impl<'p> Ctx<'p> {
    /// A pass over a tree whose layers `provenance` describes.
    pub(crate) fn new(provenance: &'p Provenance) -> Self {
        Self {
            ignored: Cell::default(),
            unknown: Cell::default(),
            provenance,
        }
    }
}

/// Deserialises `T` from the merged tree.
pub(crate) fn deserialize<T: DeserializeOwned>(root: &Table, ctx: &Ctx<'_>) -> Result<T, DeError> {
    T::deserialize(NodeDe {
        node: Node::Table(root),
        path: Vec::new(),
        ctx,
        only: Part::All,
    })
    .map_err(|e| e.at(&[]))
}

#[derive(Clone, Copy)]
enum Node<'a> {
    Table(&'a Table),
    Value(&'a toml::Value),
    Text { text: &'a str, sensitive: bool },
}

impl<'a> From<&'a Leaf> for Node<'a> {
    fn from(leaf: &'a Leaf) -> Self {
        match leaf {
            Leaf::Value(value) => Node::Value(value),
            Leaf::Text { text, sensitive } => Node::Text {
                text,
                sensitive: *sensitive,
            },
        }
    }
}

struct NodeDe<'a> {
    node: Node<'a>,
    path: KeyPath,
    ctx: &'a Ctx<'a>,
    /// Which top-level keys this deserialiser shows (see [`crate::sections`]).
    only: Part,
}

/// The part of a table a deserialiser shows: all of it, or one side of a
/// split between the kit's sections and a service's own.
#[derive(Clone, Copy)]
enum Part {
    All,
    Listed(&'static [&'static str]),
    Unlisted(&'static [&'static str]),
}

impl Part {
    fn shows(self, key: &str) -> bool {
        match self {
            Part::All => true,
            Part::Listed(keys) => keys.contains(&key),
            Part::Unlisted(keys) => !keys.contains(&key),
        }
    }
}

/// Errors about a value read from a secret file never quote it.
fn hide<T>(sensitive: bool, result: Result<T, DeError>) -> Result<T, DeError> {
    if sensitive {
        result.map_err(|_| {
            de::Error::custom("the value read from the secret file has the wrong form (not shown)")
        })
    } else {
        result
    }
}

impl<'a> NodeDe<'a> {
    /// The entries of `table`. For a `map` (not a struct) that some layer
    /// names, the seeded default entries are left out: a layer's map replaces
    /// the default map rather than adding to it, so entries can be removed.
    ///
    /// For a struct, `fields` are its field names (serde lists aliases too):
    /// the other keys are recorded in [`Ctx::unknown`] and not shown.
    fn table_access(
        table: &'a Table,
        (path, only): (KeyPath, Part),
        ctx: &'a Ctx<'a>,
        (map, fields): (bool, Option<&'static [&'static str]>),
    ) -> TableAccess<'a> {
        let replace = map && ctx.provenance.touches(&path);
        let keep = |key: &str| {
            !replace || {
                let mut entry = path.clone();
                entry.push(key.to_owned());
                ctx.provenance.touches(&entry)
            }
        };
        let items: Vec<(&'a str, Node<'a>)> = table
            .tables
            .iter()
            .map(|(key, inner)| (key.as_str(), Node::Table(inner)))
            .chain(
                table
                    .leaves
                    .iter()
                    .map(|(key, leaf)| (key.as_str(), Node::from(leaf))),
            )
            .filter(|(key, _)| only.shows(key) && keep(key))
            .filter(|(key, _)| match fields {
                Some(fields) if !fields.contains(key) => {
                    let mut unknown = ctx.unknown.take();
                    let mut entry = path.clone();
                    entry.push((*key).to_owned());
                    unknown.push((entry, fields));
                    ctx.unknown.set(unknown);
                    false
                }
                _ => true,
            })
            .collect();
        TableAccess {
            items: items.into_iter(),
            pending: None,
            path,
            ctx,
        }
    }

    fn ignore(&self) {
        let mut ignored = self.ctx.ignored.take();
        ignored.push(self.path.clone());
        self.ctx.ignored.set(ignored);
    }
}

macro_rules! dispatch {
    ($($method:ident => $text:ident;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.node {
                Node::Table(table) => {
                    visitor.visit_map(NodeDe::table_access(table, (self.path, self.only), self.ctx, (false, None)))
                }
                Node::Value(value) => value.clone().$method(visitor).map_err(from_toml),
                Node::Text { text, sensitive } => hide(sensitive, text::$text(text, visitor)),
            }
        }
    )*};
}

impl<'de, 'a> de::Deserializer<'de> for NodeDe<'a> {
    type Error = DeError;

    dispatch! {
        deserialize_any => any;
        deserialize_bool => boolean;
        deserialize_i8 => integer;
        deserialize_i16 => integer;
        deserialize_i32 => integer;
        deserialize_i64 => integer;
        deserialize_i128 => integer;
        deserialize_u8 => integer;
        deserialize_u16 => integer;
        deserialize_u32 => integer;
        deserialize_u64 => integer;
        deserialize_u128 => integer;
        deserialize_f32 => float;
        deserialize_f64 => float;
        deserialize_char => any;
        deserialize_str => any;
        deserialize_string => any;
        deserialize_bytes => bytes;
        deserialize_byte_buf => bytes;
        deserialize_unit => unit;
        deserialize_identifier => any;
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node {
            Node::Table(table) => visitor.visit_map(NodeDe::table_access(
                table,
                (self.path, self.only),
                self.ctx,
                (true, None),
            )),
            Node::Value(value) => value.clone().deserialize_map(visitor).map_err(from_toml),
            Node::Text { text, sensitive } => hide(sensitive, text::any(text, visitor)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node {
            Node::Text { text, .. } if text.trim().is_empty() => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.node {
            Node::Value(value) => value
                .clone()
                .deserialize_newtype_struct(name, visitor)
                .map_err(from_toml),
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node {
            Node::Table(table) => visitor.visit_map(NodeDe::table_access(
                table,
                (self.path, self.only),
                self.ctx,
                (false, None),
            )),
            Node::Value(value) => value.clone().deserialize_seq(visitor).map_err(from_toml),
            Node::Text { text, sensitive } => {
                let trimmed = text.trim();
                // Too deep for the parser's stack: falls back to the comma
                // list, whose items then fail to deserialise with an error.
                if trimmed.starts_with('[')
                    && crate::depth::check(trimmed).is_ok()
                    && let Ok(value) = trimmed.parse::<toml::Value>()
                {
                    return hide(sensitive, value.deserialize_seq(visitor).map_err(from_toml));
                }
                let items: Vec<&str> = if trimmed.is_empty() {
                    Vec::new()
                } else {
                    trimmed.split(',').map(str::trim).collect()
                };
                hide(
                    sensitive,
                    visitor.visit_seq(TextSeq {
                        items: items.into_iter(),
                        sensitive,
                        path: self.path,
                        ctx: self.ctx,
                    }),
                )
            }
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.node {
            Node::Value(value) => value
                .clone()
                .deserialize_struct(name, fields, visitor)
                .map_err(from_toml),
            Node::Table(table) if name == crate::sections::SPLIT => {
                visitor.visit_map(SplitAccess {
                    table,
                    sections: fields,
                    next: 0,
                    path: self.path,
                    ctx: self.ctx,
                })
            }
            Node::Table(table) => visitor.visit_map(NodeDe::table_access(
                table,
                (self.path, self.only),
                self.ctx,
                (false, Some(fields)),
            )),
            Node::Text { text, sensitive } => hide(sensitive, text::any(text, visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.node {
            Node::Table(table) => visitor.visit_enum(MapAccessDeserializer::new(
                NodeDe::table_access(table, (self.path, self.only), self.ctx, (false, None)),
            )),
            Node::Value(value) => value
                .clone()
                .deserialize_enum(name, variants, visitor)
                .map_err(from_toml),
            Node::Text { text, sensitive } => hide(
                sensitive,
                visitor.visit_enum(IntoDeserializer::<DeError>::into_deserializer(text.trim())),
            ),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.ignore();
        visitor.visit_unit()
    }
}

struct TableAccess<'a> {
    items: std::vec::IntoIter<(&'a str, Node<'a>)>,
    pending: Option<(&'a str, Node<'a>)>,
    path: KeyPath,
    ctx: &'a Ctx<'a>,
}

impl<'de> MapAccess<'de> for TableAccess<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, node)) = self.items.next() else {
            return Ok(None);
        };
        self.pending = Some((key, node));
        seed.deserialize(IntoDeserializer::<DeError>::into_deserializer(key))
            .map(Some)
            .map_err(|e| e.at(&self.path))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((key, node)) = self.pending.take() else {
            return Err(de::Error::custom("a value was requested before its key"));
        };
        let mut path = self.path.clone();
        path.push(key.to_owned());
        seed.deserialize(NodeDe {
            node,
            path: path.clone(),
            ctx: self.ctx,
            only: Part::All,
        })
        .map_err(|e| e.at(&path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The two halves of a table split by [`crate::sections::deserialize`]:
/// [`KIT`](crate::sections::KIT) shows the listed top-level keys,
/// [`OWN`](crate::sections::OWN) the others. Keys keep their full paths, so
/// errors name `grpc.listen`, not a path inside a half.
struct SplitAccess<'a> {
    table: &'a Table,
    sections: &'static [&'static str],
    next: u8,
    path: KeyPath,
    ctx: &'a Ctx<'a>,
}

impl<'de> MapAccess<'de> for SplitAccess<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let key = match self.next {
            0 => crate::sections::KIT,
            1 => crate::sections::OWN,
            _ => return Ok(None),
        };
        seed.deserialize(IntoDeserializer::<DeError>::into_deserializer(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let only = match self.next {
            0 => Part::Listed(self.sections),
            _ => Part::Unlisted(self.sections),
        };
        self.next += 1;
        seed.deserialize(NodeDe {
            node: Node::Table(self.table),
            path: self.path.clone(),
            ctx: self.ctx,
            only,
        })
    }
}

struct TextSeq<'a> {
    items: std::vec::IntoIter<&'a str>,
    sensitive: bool,
    path: KeyPath,
    ctx: &'a Ctx<'a>,
}

impl<'de> SeqAccess<'de> for TextSeq<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(text) = self.items.next() else {
            return Ok(None);
        };
        seed.deserialize(NodeDe {
            node: Node::Text {
                text,
                sensitive: self.sensitive,
            },
            path: self.path.clone(),
            ctx: self.ctx,
            only: Part::All,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// Parsing untyped text (environment variables, `--set`) as the type asked for.
mod text {
    use serde::de::{Error as _, Unexpected, Visitor};

    use super::DeError;

    pub(super) fn any<'de, V: Visitor<'de>>(text: &str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(text)
    }

    pub(super) fn boolean<'de, V: Visitor<'de>>(
        text: &str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(DeError::invalid_value(Unexpected::Str(text), &visitor)),
        }
    }

    pub(super) fn integer<'de, V: Visitor<'de>>(
        text: &str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let trimmed = text.trim();
        if let Ok(n) = trimmed.parse::<i64>() {
            visitor.visit_i64(n)
        } else if let Ok(n) = trimmed.parse::<u64>() {
            visitor.visit_u64(n)
        } else if let Ok(n) = trimmed.parse::<i128>() {
            visitor.visit_i128(n)
        } else if let Ok(n) = trimmed.parse::<u128>() {
            visitor.visit_u128(n)
        } else {
            Err(DeError::invalid_value(Unexpected::Str(text), &visitor))
        }
    }

    pub(super) fn float<'de, V: Visitor<'de>>(text: &str, visitor: V) -> Result<V::Value, DeError> {
        match text.trim().parse::<f64>() {
            Ok(n) => visitor.visit_f64(n),
            Err(_) => Err(DeError::invalid_value(Unexpected::Str(text), &visitor)),
        }
    }

    pub(super) fn bytes<'de, V: Visitor<'de>>(text: &str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_bytes(text.as_bytes())
    }

    pub(super) fn unit<'de, V: Visitor<'de>>(text: &str, visitor: V) -> Result<V::Value, DeError> {
        if text.trim().is_empty() {
            visitor.visit_unit()
        } else {
            Err(DeError::invalid_value(Unexpected::Str(text), &visitor))
        }
    }
}
