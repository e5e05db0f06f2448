//! The second tier's value format: a small header, then the value in postcard.
//!
//! ```text
//! b"bc"  format (1)  kind (0 absent, 1 value)  schema version (u32, little endian)  postcard body
//! ```
//!
//! postcard is compact and not self-describing: bytes of an older value type may well parse
//! as the new one. The header's schema version (declared by the service, see
//! `CacheBuilder::schema_version`) is what tells them apart; the body must also be used up
//! exactly. Anything that does not match is a miss, never a panic.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The first two bytes of every entry.
const MAGIC: [u8; 2] = *b"bc";
/// The version of this layout.
const FORMAT: u8 = 1;
/// Header length: magic, format, kind, schema.
pub(crate) const HEADER: usize = 8;
/// `kind` of a cached absence.
const ABSENT: u8 = 0;
/// `kind` of a value.
const VALUE: u8 = 1;

/// Why an entry read from the tier is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unusable {
    /// Written with another schema version (or format): the value type changed.
    Schema,
    /// Not a valid entry for this value type.
    Decode,
}

/// `answer` as an entry: `None` for a cached absence.
pub(crate) fn encode<V: Serialize>(schema: u32, answer: Option<&V>) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT);
    out.push(if answer.is_some() { VALUE } else { ABSENT });
    out.extend_from_slice(&schema.to_le_bytes());
    match answer {
        Some(value) => postcard::to_extend(value, out).map_err(|e| e.to_string()),
        None => Ok(out),
    }
}

/// The answer an entry holds: `Ok(None)` for a cached absence.
pub(crate) fn decode<V: DeserializeOwned>(
    schema: u32,
    bytes: &[u8],
) -> Result<Option<V>, Unusable> {
    let (header, body) = bytes.split_at_checked(HEADER).ok_or(Unusable::Decode)?;
    if header[..2] != MAGIC {
        return Err(Unusable::Decode);
    }
    let written_schema = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if header[2] != FORMAT || written_schema != schema {
        return Err(Unusable::Schema);
    }
    match header[3] {
        ABSENT if body.is_empty() => Ok(None),
        VALUE => match postcard::take_from_bytes::<V>(body) {
            Ok((value, [])) => Ok(Some(value)),
            _ => Err(Unusable::Decode),
        },
        _ => Err(Unusable::Decode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct V1 {
        name: String,
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct V2 {
        name: String,
        age: u32,
    }

    #[test]
    fn round_trips_values_and_absences() {
        let bytes = encode(3, Some(&V1 { name: "ada".into() })).unwrap();
        assert_eq!(decode::<V1>(3, &bytes), Ok(Some(V1 { name: "ada".into() })));
        let bytes = encode::<V1>(3, None).unwrap();
        assert_eq!(bytes.len(), HEADER);
        assert_eq!(decode::<V1>(3, &bytes), Ok(None));
    }

    #[test]
    fn another_schema_version_is_unusable() {
        let bytes = encode(1, Some(&V1 { name: "ada".into() })).unwrap();
        assert_eq!(decode::<V2>(2, &bytes), Err(Unusable::Schema));
    }

    #[test]
    fn a_changed_type_under_the_same_schema_is_unusable_not_a_panic() {
        let bytes = encode(1, Some(&V1 { name: "ada".into() })).unwrap();
        assert_eq!(decode::<V2>(1, &bytes), Err(Unusable::Decode));
        // And the other way: trailing bytes are not silently ignored.
        let bytes = encode(
            1,
            Some(&V2 {
                name: "ada".into(),
                age: 36,
            }),
        )
        .unwrap();
        assert_eq!(decode::<V1>(1, &bytes), Err(Unusable::Decode));
    }

    #[test]
    fn garbage_is_unusable() {
        for bytes in [
            &b""[..],
            b"bc",
            b"xx\x01\x01\0\0\0\0",
            b"bc\x01\x07\0\0\0\0",
            b"bc\x01\x00\0\0\0\0junk",
        ] {
            assert!(decode::<V1>(0, bytes).is_err(), "{bytes:?}");
        }
        assert_eq!(
            decode::<V1>(0, b"bc\x02\x01\0\0\0\0"),
            Err(Unusable::Schema)
        );
    }
}
