//! [`ByteSize`]: how many bytes a key or value holds, so a cache can keep to a byte budget.
//!
//! moka bounds a cache by a total weight that a weigher gives each entry; counting entries
//! alone let an upstream answering 4 MiB values grow a 10,000-entry cache to 40 GB. Every
//! key and value type therefore says roughly how much memory it holds. The impls below cover
//! the standard types; a type of your own adds one method (see [`ByteSize`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::mem::size_of;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The memory a value holds: its own size plus what it owns on the heap, in bytes.
///
/// An estimate is enough (allocator overhead and spare capacity may be left out); what
/// matters is that a value holding a megabyte says so. Shared data behind an [`Arc`] is
/// counted in full, as if this were the only owner: the cache may well be.
///
/// For a type of your own, add the sizes of its fields:
///
/// ```
/// use boost_cache::ByteSize;
///
/// #[derive(Clone)]
/// struct Profile {
///     name: String,
///     languages: Vec<String>,
/// }
///
/// impl ByteSize for Profile {
///     fn byte_size(&self) -> usize {
///         self.name.byte_size() + self.languages.byte_size()
///     }
/// }
///
/// let profile = Profile { name: "ada".into(), languages: vec!["en".into()] };
/// assert!(profile.byte_size() >= 2 * std::mem::size_of::<String>() + 5);
/// ```
///
/// For a generated protobuf message, its encoded length is a good measure of what it holds:
/// `std::mem::size_of::<Self>() + prost::Message::encoded_len(self)`.
pub trait ByteSize {
    /// The bytes this value holds: `size_of::<Self>()` plus the heap memory it owns.
    fn byte_size(&self) -> usize;
}

/// Types that own nothing on the heap: their size is their stack size.
macro_rules! inline_size {
    ($($ty:ty),* $(,)?) => {
        $(impl ByteSize for $ty {
            fn byte_size(&self) -> usize {
                size_of::<Self>()
            }
        })*
    };
}

inline_size!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    Duration,
    Instant,
    SystemTime,
    std::net::IpAddr,
    std::net::SocketAddr,
);

impl ByteSize for String {
    fn byte_size(&self) -> usize {
        size_of::<Self>().saturating_add(self.capacity())
    }
}

impl ByteSize for str {
    fn byte_size(&self) -> usize {
        self.len()
    }
}

/// A reference owns nothing: a `&'static str` key costs the cache only the reference.
impl<T: ?Sized> ByteSize for &T {
    fn byte_size(&self) -> usize {
        size_of::<Self>()
    }
}

impl<T: ByteSize> ByteSize for [T] {
    fn byte_size(&self) -> usize {
        self.iter()
            .map(ByteSize::byte_size)
            .fold(0, usize::saturating_add)
    }
}

impl<T: ByteSize, const N: usize> ByteSize for [T; N] {
    fn byte_size(&self) -> usize {
        self.as_slice().byte_size()
    }
}

impl<T: ByteSize> ByteSize for Vec<T> {
    fn byte_size(&self) -> usize {
        // Spare capacity holds no `T` yet but is memory all the same.
        let spare = (self.capacity() - self.len()).saturating_mul(size_of::<T>());
        size_of::<Self>()
            .saturating_add(spare)
            .saturating_add(self.as_slice().byte_size())
    }
}

impl<T: ByteSize> ByteSize for VecDeque<T> {
    fn byte_size(&self) -> usize {
        let spare = (self.capacity() - self.len()).saturating_mul(size_of::<T>());
        self.iter().map(ByteSize::byte_size).fold(
            size_of::<Self>().saturating_add(spare),
            usize::saturating_add,
        )
    }
}

impl<T: ByteSize + ?Sized> ByteSize for Box<T> {
    fn byte_size(&self) -> usize {
        size_of::<Self>().saturating_add((**self).byte_size())
    }
}

impl<T: ByteSize + ?Sized> ByteSize for Arc<T> {
    fn byte_size(&self) -> usize {
        // Two reference counts live beside the value.
        (size_of::<Self>() + 2 * size_of::<usize>()).saturating_add((**self).byte_size())
    }
}

impl<T: ByteSize> ByteSize for Option<T> {
    fn byte_size(&self) -> usize {
        match self {
            // The payload's inline part is inside the option already.
            Some(value) => (size_of::<Self>() - size_of::<T>()).saturating_add(value.byte_size()),
            None => size_of::<Self>(),
        }
    }
}

impl<T: ByteSize, E: ByteSize> ByteSize for Result<T, E> {
    fn byte_size(&self) -> usize {
        match self {
            Ok(value) => (size_of::<Self>() - size_of::<T>()).saturating_add(value.byte_size()),
            Err(error) => (size_of::<Self>() - size_of::<E>()).saturating_add(error.byte_size()),
        }
    }
}

/// Maps and sets: their entries plus a word of bookkeeping per entry (an estimate).
macro_rules! collection_size {
    ($($ty:ident<$($param:ident),+>),* $(,)?) => {
        $(impl<$($param: ByteSize),+> ByteSize for $ty<$($param),+> {
            fn byte_size(&self) -> usize {
                let per_entry_overhead = self.len().saturating_mul(size_of::<usize>());
                collection_size!(@entries self, $($param),+)
                    .fold(size_of::<Self>().saturating_add(per_entry_overhead), usize::saturating_add)
            }
        })*
    };
    (@entries $self:ident, $k:ident, $v:ident) => {
        $self.iter().map(|(key, value)| key.byte_size().saturating_add(value.byte_size()))
    };
    (@entries $self:ident, $k:ident) => {
        $self.iter().map(ByteSize::byte_size)
    };
}

collection_size!(HashMap<K, V>, BTreeMap<K, V>, HashSet<T>, BTreeSet<T>);

/// Tuples: the sum of their parts.
macro_rules! tuple_size {
    ($(($($name:ident),+)),* $(,)?) => {
        $(impl<$($name: ByteSize),+> ByteSize for ($($name,)+) {
            #[allow(non_snake_case)]
            fn byte_size(&self) -> usize {
                let ($($name,)+) = self;
                0usize $(.saturating_add($name.byte_size()))+
            }
        })*
    };
}

tuple_size!((A), (A, B), (A, B, C), (A, B, C, D));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_counts_its_heap_bytes() {
        let value = "x".repeat(4 << 20);
        assert!(value.byte_size() >= 4 << 20);
        assert_eq!(String::new().byte_size(), size_of::<String>());
    }

    #[test]
    fn containers_add_up_what_they_hold() {
        let values = vec!["a".repeat(1000), "b".repeat(1000)];
        assert!(values.byte_size() >= 2000 + 2 * size_of::<String>());
        let shared = Arc::new("c".repeat(1000));
        assert!(shared.byte_size() >= 1000);
        let map: HashMap<String, Vec<u8>> = [("k".to_owned(), vec![0; 500])].into();
        assert!(map.byte_size() >= 501);
        assert!(Some("d".repeat(100)).byte_size() >= 100);
        assert!(("e".repeat(10), 7u32).byte_size() >= 14);
    }

    #[test]
    fn a_borrowed_key_costs_only_the_reference() {
        let key: &'static str = "a long key that the cache does not own";
        assert_eq!(<&str as ByteSize>::byte_size(&key), size_of::<&str>());
    }
}
