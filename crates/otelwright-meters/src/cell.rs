//! [`SnapshotCell`]: the latest value a background task produced, read by callbacks without waiting.

use std::sync::{Arc, Mutex, PoisonError};

/// Holds the latest snapshot behind a short std mutex: a writer swaps in a new `Arc`, readers clone the `Arc`.
/// The lock is held only for the pointer swap or clone, never across I/O or an `.await`.
#[derive(Debug)]
pub(crate) struct SnapshotCell<T> {
    value: Mutex<Arc<T>>,
}

impl<T> SnapshotCell<T> {
    pub(crate) fn new(value: T) -> Self {
        SnapshotCell { value: Mutex::new(Arc::new(value)) }
    }

    /// The latest value.
    pub(crate) fn load(&self) -> Arc<T> {
        self.value.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Replaces the value; the old one is dropped outside the lock.
    pub(crate) fn store(&self, value: T) {
        let new = Arc::new(value);
        let _old = std::mem::replace(&mut *self.value.lock().unwrap_or_else(PoisonError::into_inner), new);
    }
}
