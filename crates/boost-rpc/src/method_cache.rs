//! Per-method values (metric handles) that client and server layers look up
//! on every call.
//!
//! The first [`FAST_METHODS`] methods are found by scanning slots that are
//! written once, without a lock or a reference count: under many calls in
//! flight a shared lock word and counters written on every call bounce between
//! cores. Later methods are found with one read lock and one hash (foldhash:
//! SipHash over a 30-byte method name costs more than the rest of a layer).
//! A cache holds at most `max` methods; beyond it a value is made for each
//! lookup and not kept, so names from requests cannot grow it without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

/// Methods found without a lock (a service or client has a few).
const FAST_METHODS: usize = 16;

/// Values per method name, made on first use. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct MethodCache<V> {
    fast: [OnceLock<(Box<str>, V)>; FAST_METHODS],
    adding: Mutex<()>,
    map: RwLock<HashMap<Box<str>, Arc<V>, foldhash::fast::RandomState>>,
    max: usize,
}

/// Where [`MethodCache::find`] found a method's value.
#[derive(Debug)]
pub(crate) enum MethodRef<V> {
    /// In the lock-free slots: an index, nothing shared is written to keep it.
    Fast(usize),
    /// In the map, or made for this lookup when the cache is full.
    Other(Arc<V>),
}

impl<V> Default for MethodCache<V> {
    /// A cache without a size limit (for names chosen by code, not requests).
    fn default() -> Self {
        Self::with_max(usize::MAX)
    }
}

impl<V> MethodCache<V> {
    /// A cache keeping at most `max` methods.
    pub(crate) fn with_max(max: usize) -> Self {
        Self {
            fast: std::array::from_fn(|_| OnceLock::new()),
            adding: Mutex::new(()),
            map: RwLock::new(HashMap::default()),
            max,
        }
    }

    /// Where the value of `method` is, made by `make(method)` on first use.
    #[inline]
    pub(crate) fn find(&self, method: &str, make: impl FnOnce(&str) -> V) -> MethodRef<V> {
        for (i, slot) in self.fast.iter().enumerate() {
            match slot.get() {
                Some((name, _)) if &**name == method => return MethodRef::Fast(i),
                Some(_) => {}
                None => break,
            }
        }
        if let Some(value) = self
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(method)
        {
            return MethodRef::Other(value.clone());
        }
        self.add(method, make)
    }

    /// The value `found` refers to.
    #[inline]
    pub(crate) fn get<'a>(&'a self, found: &'a MethodRef<V>) -> Option<&'a V> {
        match found {
            MethodRef::Fast(i) => self.fast.get(*i).and_then(OnceLock::get).map(|(_, v)| v),
            MethodRef::Other(value) => Some(value),
        }
    }

    #[cold]
    fn add(&self, method: &str, make: impl FnOnce(&str) -> V) -> MethodRef<V> {
        let _adding = self.adding.lock().unwrap_or_else(PoisonError::into_inner);
        let mut kept = 0;
        for (i, slot) in self.fast.iter().enumerate() {
            match slot.get() {
                Some((name, _)) if &**name == method => return MethodRef::Fast(i),
                Some(_) => kept += 1,
                None if kept < self.max => {
                    let _ = slot.set((method.into(), make(method)));
                    return MethodRef::Fast(i);
                }
                None => break,
            }
        }
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = map.get(method) {
            return MethodRef::Other(value.clone());
        }
        let value = Arc::new(make(method));
        if kept + map.len() < self.max {
            map.insert(method.into(), value.clone());
        }
        MethodRef::Other(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_is_made_once_and_found_again() {
        let cache = MethodCache::default();
        let made = std::cell::Cell::new(0);
        let make = |m: &str| {
            made.set(made.get() + 1);
            m.len()
        };
        // More methods than lock-free slots: the rest go to the map.
        let names: Vec<String> = (0..40).map(|i| format!("pkg.S/M{i}")).collect();
        for _ in 0..3 {
            for name in &names {
                let found = cache.find(name, make);
                assert_eq!(cache.get(&found), Some(&name.len()));
            }
        }
        assert_eq!(made.get(), 40);
        assert!(matches!(cache.find("pkg.S/M0", make), MethodRef::Fast(0)));
        assert!(matches!(cache.find("pkg.S/M39", make), MethodRef::Other(_)));
    }

    #[test]
    fn beyond_its_limit_values_are_made_per_lookup_and_not_kept() {
        let cache = MethodCache::with_max(20);
        for i in 0..30 {
            let name = format!("/path/{i}");
            assert_eq!(cache.get(&cache.find(&name, |m| m.to_owned())), Some(&name));
        }
        let kept = cache.fast.iter().filter(|s| s.get().is_some()).count()
            + cache.map.read().unwrap().len();
        assert_eq!(kept, 20);
        let made = std::cell::Cell::new(false);
        cache.find("/path/25", |m| {
            made.set(true);
            m.to_owned()
        });
        assert!(made.get(), "a name past the limit is made again");
    }
}
