//! [`KeyStore`]: governor's DashMap state store, shared with the limiter so
//! it can see how many keys are tracked and whether one is known.

use std::sync::Arc;

use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};

/// The keys' GCRA states. Clones share one map.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyStore {
    map: Arc<DashMapStateStore<String>>,
}

impl KeyStore {
    /// Whether `key` has a state now.
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Keys tracked now.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

impl StateStore for KeyStore {
    type Key = String;

    fn measure_and_replace<T, F, E>(&self, key: &String, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.map.measure_and_replace(key, f)
    }
}

impl ShrinkableKeyedStateStore<String> for KeyStore {
    fn retain_recent(&self, drop_below: Nanos) {
        ShrinkableKeyedStateStore::retain_recent(&*self.map, drop_below);
    }

    fn shrink_to_fit(&self) {
        ShrinkableKeyedStateStore::shrink_to_fit(&*self.map);
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
