//! [`Registry`]: a named, copy-on-write list of sources shared by the OTel callbacks and snapshot readers.
//!
//! Readers take the current list (an `Arc` clone under a short lock) and iterate without holding any lock;
//! writers (registering a pool or cache, rare) copy the list. A name registered twice replaces the first entry.

use std::sync::{Arc, PoisonError, RwLock};

/// Something with a name in a registry.
pub(crate) trait Named {
    fn name(&self) -> &str;
}

#[derive(Debug)]
pub(crate) struct Registry<E> {
    entries: RwLock<Arc<[Arc<E>]>>,
    default: RwLock<Option<Arc<str>>>,
}

impl<E> Default for Registry<E> {
    fn default() -> Self {
        Registry { entries: RwLock::new(Arc::from(Vec::new())), default: RwLock::new(None) }
    }
}

impl<E: Named> Registry<E> {
    /// The current entries, in registration order.
    pub(crate) fn entries(&self) -> Arc<[Arc<E>]> {
        self.entries.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Adds `entry`, replacing one with the same name. The first entry added becomes the default.
    pub(crate) fn add(&self, entry: Arc<E>) {
        let name: Arc<str> = Arc::from(entry.name());
        {
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            let mut list: Vec<Arc<E>> = entries.iter().filter(|e| e.name() != &*name).cloned().collect();
            if list.len() != entries.len() {
                tracing::warn!(target: "otelwright_meters", name = %name, "a meter source with this name was replaced");
            }
            list.push(entry);
            *entries = Arc::from(list);
        }
        let mut default = self.default.write().unwrap_or_else(PoisonError::into_inner);
        if default.is_none() {
            *default = Some(name);
        }
    }

    /// Removes the entry named `name`; returns whether there was one.
    pub(crate) fn remove(&self, name: &str) -> bool {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let list: Vec<Arc<E>> = entries.iter().filter(|e| e.name() != name).cloned().collect();
        let removed = list.len() != entries.len();
        *entries = Arc::from(list);
        removed
    }

    /// The entry named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<E>> {
        self.entries().iter().find(|e| e.name() == name).cloned()
    }

    /// Sets the default entry's name.
    pub(crate) fn set_default(&self, name: &str) {
        *self.default.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::from(name));
    }

    /// The default entry's name: the one set, else the first registered.
    pub(crate) fn default_name(&self) -> Option<Arc<str>> {
        self.default.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}
