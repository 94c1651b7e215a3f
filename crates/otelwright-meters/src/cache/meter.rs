//! [`CacheMeter`]: the handle application code calls on every cache operation.
//!
//! Recording is one relaxed atomic add on a counter stripe chosen per thread, so threads on different cores do
//! not bounce one cache line between them. Reading (once per collection, or for a snapshot) sums the stripes.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::{CacheCounts, CacheStats};
use crate::source::SourceError;

/// Number of counter stripes (a power of two).
const STRIPES: usize = 8;
const HIT: usize = 0;
const MISS: usize = 1;
const SET: usize = 2;
const DELETE: usize = 3;
const ERROR: usize = 4;
const EVICTION: usize = 5;
const KINDS: usize = 6;
/// Marks "no entry count reported".
const UNKNOWN: u64 = u64::MAX;

/// One stripe on its own pair of cache lines.
#[repr(align(128))]
#[derive(Default)]
struct Stripe([AtomicU64; KINDS]);

struct Counters {
    stripes: [Stripe; STRIPES],
    entries: AtomicU64,
}

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline]
fn stripe_index() -> usize {
    STRIPE.with(|s| {
        let i = s.get();
        if i != usize::MAX {
            return i;
        }
        let i = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
        s.set(i);
        i
    })
}

/// Counts one cache's hits, misses, sets, deletes, errors and evictions. Cheap to clone (an `Arc`); every clone
/// adds to the same counters. Obtain one from [`crate::CacheMeters::meter`] so it is exported.
///
/// ```
/// let caches = otelwright_meters::CacheMeters::new();
/// let sessions = caches.meter("sessions");
/// sessions.hit();
/// sessions.miss();
/// sessions.set();
/// let counts = caches.snapshot().get("sessions").unwrap().counts.unwrap();
/// assert_eq!((counts.hits, counts.misses, counts.sets), (1, 1, Some(1)));
/// ```
#[derive(Clone)]
pub struct CacheMeter {
    counters: Arc<Counters>,
}

impl Default for CacheMeter {
    fn default() -> Self {
        CacheMeter { counters: Arc::new(Counters { stripes: Default::default(), entries: AtomicU64::new(UNKNOWN) }) }
    }
}

impl std::fmt::Debug for CacheMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheMeter").field("counts", &self.counts()).finish()
    }
}

impl CacheMeter {
    /// A meter that is not registered anywhere (register it with [`crate::CacheMeters::add`]).
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    fn add(&self, kind: usize, n: u64) {
        self.counters.stripes[stripe_index()].0[kind].fetch_add(n, Ordering::Relaxed);
    }

    /// A read that found its entry.
    #[inline]
    pub fn hit(&self) {
        self.add(HIT, 1);
    }

    /// A read that did not find its entry.
    #[inline]
    pub fn miss(&self) {
        self.add(MISS, 1);
    }

    /// A read: a hit when `found`, else a miss.
    #[inline]
    pub fn read(&self, found: bool) {
        self.add(if found { HIT } else { MISS }, 1);
    }

    /// A write (insert or replace).
    #[inline]
    pub fn set(&self) {
        self.add(SET, 1);
    }

    /// An explicit removal.
    #[inline]
    pub fn delete(&self) {
        self.add(DELETE, 1);
    }

    /// An operation that failed (for a remote cache: the call errored).
    #[inline]
    pub fn error(&self) {
        self.add(ERROR, 1);
    }

    /// An entry the cache removed on its own (capacity or expiry).
    #[inline]
    pub fn eviction(&self) {
        self.add(EVICTION, 1);
    }

    /// Adds `n` evictions at once.
    #[inline]
    pub fn evictions(&self, n: u64) {
        self.add(EVICTION, n);
    }

    /// Sets the current number of entries (exported as `cache.entry.count`; not exported until first set).
    #[inline]
    pub fn set_entry_count(&self, entries: u64) {
        self.counters.entries.store(entries.min(UNKNOWN - 1), Ordering::Relaxed);
    }

    /// The counts so far (sums the stripes).
    pub fn counts(&self) -> CacheCounts {
        let mut sum = [0u64; KINDS];
        for stripe in &self.counters.stripes {
            for (total, counter) in sum.iter_mut().zip(&stripe.0) {
                *total = total.wrapping_add(counter.load(Ordering::Relaxed));
            }
        }
        let entries = self.counters.entries.load(Ordering::Relaxed);
        CacheCounts {
            hits: sum[HIT],
            misses: sum[MISS],
            sets: Some(sum[SET]),
            deletes: Some(sum[DELETE]),
            errors: Some(sum[ERROR]),
            evictions: Some(sum[EVICTION]),
            entries: (entries != UNKNOWN).then_some(entries),
        }
    }
}

impl CacheStats for CacheMeter {
    fn stats(&self) -> Result<CacheCounts, SourceError> {
        Ok(self.counts())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_across_threads() {
        let meter = CacheMeter::new();
        std::thread::scope(|s| {
            for _ in 0..4 {
                let m = meter.clone();
                s.spawn(move || {
                    for i in 0..1000 {
                        m.read(i % 4 != 0);
                        m.set();
                    }
                    m.delete();
                    m.error();
                    m.eviction();
                });
            }
        });
        let c = meter.counts();
        assert_eq!((c.hits, c.misses), (3000, 1000));
        assert_eq!((c.sets, c.deletes, c.errors, c.evictions), (Some(4000), Some(4), Some(4), Some(4)));
        assert_eq!(c.entries, None);
        meter.set_entry_count(12);
        assert_eq!(meter.counts().entries, Some(12));
    }
}
