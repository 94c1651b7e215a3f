//! Cache meters: the [`CacheMeter`] handle, the [`CacheStats`] trait for caches that keep their own counters,
//! the [`CacheMeters`] registry that exports them all, and the moka and Redis adapters.
//!
//! Semconv has no cache metrics; the names are otelwright's own (see the crate README):
//! `cache.requests{cache.result=hit|miss}`, `cache.operations{cache.operation=set|delete}`, `cache.errors`,
//! `cache.evictions`, `cache.entry.count` and `cache.hit_ratio`, all with `cache.name`.
//!
//! ```
//! use otelwright_meters::CacheMeters;
//! # let meter = opentelemetry::global::meter("doc");
//! let caches = CacheMeters::new();
//! caches.register_instruments(&meter);
//! let users = caches.meter("users");
//! match Some("cached user") {
//!     Some(_) => users.hit(),
//!     None => users.miss(),
//! }
//! let snapshot = caches.snapshot();
//! assert_eq!(snapshot.default_cache().unwrap().hit_rate_percent(), Some(100.0));
//! ```

mod instruments;
mod meter;
mod meters;
#[cfg(feature = "moka")]
pub mod moka;
#[cfg(feature = "redis")]
pub mod redis;

pub use meter::CacheMeter;
pub use meters::{CacheMeters, CacheSnapshot, CachesSnapshot};

use serde::Serialize;

use crate::source::SourceError;

/// One cache's cumulative counters. `None` means the source does not track that count (it is then not
/// exported), as opposed to `Some(0)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CacheCounts {
    /// Reads that found their entry.
    pub hits: u64,
    /// Reads that did not.
    pub misses: u64,
    /// Writes.
    pub sets: Option<u64>,
    /// Explicit removals.
    pub deletes: Option<u64>,
    /// Failed operations.
    pub errors: Option<u64>,
    /// Entries the cache removed on its own (capacity or expiry).
    pub evictions: Option<u64>,
    /// Current number of entries.
    pub entries: Option<u64>,
}

impl CacheCounts {
    /// Hits plus misses.
    pub fn total_reads(&self) -> u64 {
        self.hits.saturating_add(self.misses)
    }

    /// Hits ÷ (hits + misses), `None` before the first read.
    pub fn hit_ratio(&self) -> Option<f64> {
        let reads = self.total_reads();
        (reads > 0).then(|| self.hits as f64 / reads as f64)
    }
}

/// A cache that keeps its own counters. `stats` is called from metric callbacks and snapshot readers: it must
/// return at once from memory (atomics or a value a background task refreshed), never do I/O or block.
pub trait CacheStats: Send + Sync + 'static {
    /// The current counts, or why there are none ([`SourceError::NotReady`] is not logged).
    fn stats(&self) -> Result<CacheCounts, SourceError>;
}

impl<T: CacheStats + ?Sized> CacheStats for std::sync::Arc<T> {
    fn stats(&self) -> Result<CacheCounts, SourceError> {
        (**self).stats()
    }
}

#[cfg(test)]
mod tests;
