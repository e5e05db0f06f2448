//! [`deserialize`]: one configuration made of two settings types sharing the
//! top level — the kit's standard sections and a service's own.
//!
//! A service's file reads as one document:
//!
//! ```toml
//! [grpc]                 # the kit's
//! listen = "0.0.0.0:50051"
//!
//! [profiles]             # the service's
//! timeout = "300ms"
//! ```
//!
//! yet the kit owns `grpc` and the service owns `profiles`, so neither type
//! lists the other's sections and a kit release that adds a section changes no
//! service's code. `serde(flatten)` cannot do this here: it buffers values
//! into serde's private `Content` first, which loses what the loader knows —
//! untyped text from environment variables parsed as the field's type, the
//! key path of an error, and unknown-key detection. This splits the table
//! instead: the kit's type sees only its sections, the service's type sees
//! the rest, both with their full key paths.

use serde::de::{self, DeserializeOwned, MapAccess, Visitor};

/// The struct name that tells the loader's deserialiser to split.
pub(crate) const SPLIT: &str = "boost_config::sections";
/// The key of the half holding the listed sections.
pub(crate) const KIT: &str = "\0kit";
/// The key of the half holding every other key.
pub(crate) const OWN: &str = "\0own";

/// Deserialises `(K, S)` from one table: `K` from the top-level keys named in
/// `sections`, `S` from all the others. For a `Deserialize` impl of a type
/// that pairs the kit's sections with a service's settings:
///
/// ```
/// use serde::{Deserialize, Deserializer};
///
/// #[derive(Default, Deserialize)]
/// #[serde(default, deny_unknown_fields)]
/// struct Kit { grpc: Grpc }
/// #[derive(Default, Deserialize)]
/// #[serde(default, deny_unknown_fields)]
/// struct Grpc { listen: String }
/// #[derive(Default, Deserialize)]
/// #[serde(default, deny_unknown_fields)]
/// struct Own { workers: u32 }
///
/// struct Config { kit: Kit, own: Own }
///
/// impl<'de> Deserialize<'de> for Config {
///     fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
///         let (kit, own) = boost_config::sections::deserialize(d, &["grpc"])?;
///         Ok(Config { kit, own })
///     }
/// }
///
/// let config: Config = toml::from_str("workers = 4\n[grpc]\nlisten = \"[::]:1\"\n").unwrap();
/// assert_eq!((config.own.workers, config.kit.grpc.listen.as_str()), (4, "[::]:1"));
/// ```
///
/// Through the [`Loader`](crate::Loader) every problem of either half is
/// reported with its full key and layer; a key in neither half is an unknown
/// key of `S`. Any other self-describing deserialiser (e.g. `toml`) works too.
///
/// # Errors
/// Whatever the two halves' deserialisation reports.
pub fn deserialize<'de, D, K, S>(
    deserializer: D,
    sections: &'static [&'static str],
) -> Result<(K, S), D::Error>
where
    D: de::Deserializer<'de>,
    K: DeserializeOwned,
    S: DeserializeOwned,
{
    deserializer.deserialize_struct(
        SPLIT,
        sections,
        SplitVisitor::<K, S> {
            sections,
            parts: std::marker::PhantomData,
        },
    )
}

struct SplitVisitor<K, S> {
    sections: &'static [&'static str],
    parts: std::marker::PhantomData<fn() -> (K, S)>,
}

impl<'de, K: DeserializeOwned, S: DeserializeOwned> Visitor<'de> for SplitVisitor<K, S> {
    type Value = (K, S);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a configuration table")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(K, S), A::Error> {
        let mut kit: Option<K> = None;
        let mut own: Option<S> = None;
        // Any other deserialiser: sort the entries into two tables.
        let mut kit_table = toml::Table::new();
        let mut own_table = toml::Table::new();
        let mut plain = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                KIT => kit = Some(map.next_value()?),
                OWN => own = Some(map.next_value()?),
                _ => {
                    plain = true;
                    let value: toml::Value = map.next_value()?;
                    if self.sections.contains(&key.as_str()) {
                        kit_table.insert(key, value);
                    } else {
                        own_table.insert(key, value);
                    }
                }
            }
        }
        match (kit, own) {
            (Some(kit), Some(own)) if !plain => Ok((kit, own)),
            _ => {
                let kit =
                    K::deserialize(toml::Value::Table(kit_table)).map_err(de::Error::custom)?;
                let own =
                    S::deserialize(toml::Value::Table(own_table)).map_err(de::Error::custom)?;
                Ok((kit, own))
            }
        }
    }
}
