//! moka adapter (feature `moka`): [`MeteredCache`] and [`MeteredFutureCache`] wrap a moka cache, count every
//! read, write and removal through a [`CacheMeter`], count evictions with moka's eviction listener, and report
//! `cache.entry.count` from `entry_count()`. moka keeps no hit/miss statistics of its own, so counting at the
//! call site is the only way to get them.
//!
//! ```
//! use otelwright_meters::{CacheMeters, cache::moka::MeteredCache};
//! let caches = CacheMeters::new();
//! let users: MeteredCache<u32, String> =
//!     MeteredCache::build(&caches, "users", moka::sync::Cache::builder().max_capacity(1_000));
//! users.insert(1, "ada".into());
//! assert_eq!(users.get(&1).as_deref(), Some("ada"));
//! assert_eq!(users.get(&2), None);
//! let counts = caches.snapshot().get("users").unwrap().counts.unwrap();
//! assert_eq!((counts.hits, counts.misses, counts.sets), (1, 1, Some(1)));
//! ```

use std::collections::hash_map::RandomState;
use std::hash::Hash;
use std::sync::Arc;

use moka::Equivalent;
use moka::notification::RemovalCause;

use super::{CacheCounts, CacheMeter, CacheMeters, CacheStats};
use crate::source::SourceError;

/// A moka cache whose entry count can be read without waiting.
trait EntryCount: Send + Sync + 'static {
    fn entry_count(&self) -> u64;
}

impl<K: Send + Sync + 'static, V: Send + Sync + 'static> EntryCount for moka::sync::Cache<K, V> {
    fn entry_count(&self) -> u64 {
        moka::sync::Cache::entry_count(self)
    }
}

impl<K: Send + Sync + 'static, V: Send + Sync + 'static> EntryCount for moka::future::Cache<K, V> {
    fn entry_count(&self) -> u64 {
        moka::future::Cache::entry_count(self)
    }
}

/// The registry's view of a metered moka cache: the meter's counters plus moka's entry count.
struct Source<C> {
    meter: CacheMeter,
    cache: C,
}

impl<C: EntryCount> CacheStats for Source<C> {
    fn stats(&self) -> Result<CacheCounts, SourceError> {
        Ok(CacheCounts { entries: Some(self.cache.entry_count()), ..self.meter.counts() })
    }
}

fn eviction_counter<K, V>(meter: &CacheMeter) -> impl Fn(Arc<K>, V, RemovalCause) + Send + Sync + 'static {
    let meter = meter.clone();
    move |_key, _value, cause| {
        if cause.was_evicted() {
            meter.eviction();
        }
    }
}

/// Writes a metered wrapper around one of moka's two caches: `sync` or `future`. They have the same operations,
/// the future cache's awaited, so the counting is written once here; `$async` and `$await` are empty for `sync`.
macro_rules! metered_cache {
    (
        $(#[$doc:meta])*
        $name:ident, $module:ident, $init:ty, [$($async:ident)?], [$($await:tt)*]
    ) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name<K, V> {
            cache: moka::$module::Cache<K, V, RandomState>,
            meter: CacheMeter,
        }

        impl<K, V> std::fmt::Debug for $name<K, V> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).field("meter", &self.meter).finish()
            }
        }

        impl<K, V> $name<K, V>
        where
            K: Hash + Eq + Send + Sync + 'static,
            V: Clone + Send + Sync + 'static,
        {
            /// Builds the cache from `builder` (its eviction listener is replaced by the eviction counter) and
            /// registers it in `caches` as `name`.
            pub fn build(
                caches: &CacheMeters,
                name: &str,
                builder: moka::$module::CacheBuilder<K, V, moka::$module::Cache<K, V>>,
            ) -> Self {
                let meter = CacheMeter::new();
                let cache = builder.eviction_listener(eviction_counter(&meter)).build();
                caches.add(name, Source { meter: meter.clone(), cache: cache.clone() });
                $name { cache, meter }
            }

            /// Reads `key`, counting a hit or a miss.
            pub $($async)? fn get<Q: Equivalent<K> + Hash + ?Sized>(&self, key: &Q) -> Option<V> {
                let value = self.cache.get(key)$($await)*;
                self.meter.read(value.is_some());
                value
            }

            /// Returns the cached value, or computes, stores and returns it: a hit, or a miss and a set.
            pub $($async)? fn get_with(&self, key: K, init: $init) -> V {
                let entry = self.cache.entry(key).or_insert_with(init)$($await)*;
                if entry.is_fresh() {
                    self.meter.miss();
                    self.meter.set();
                } else {
                    self.meter.hit();
                }
                entry.into_value()
            }

            /// Stores `value`, counting a set.
            pub $($async)? fn insert(&self, key: K, value: V) {
                self.cache.insert(key, value)$($await)*;
                self.meter.set();
            }

            /// Removes `key`, counting a delete.
            pub $($async)? fn invalidate<Q: Equivalent<K> + Hash + ?Sized>(&self, key: &Q) {
                self.cache.invalidate(key)$($await)*;
                self.meter.delete();
            }

            /// Removes and returns `key`'s value, counting a delete.
            pub $($async)? fn remove<Q: Equivalent<K> + Hash + ?Sized>(&self, key: &Q) -> Option<V> {
                let value = self.cache.remove(key)$($await)*;
                self.meter.delete();
                value
            }

            /// The wrapped cache, for operations that are not counted.
            pub fn inner(&self) -> &moka::$module::Cache<K, V> {
                &self.cache
            }

            /// The meter the wrapper counts into (for example to count errors of the loader).
            pub fn meter(&self) -> &CacheMeter {
                &self.meter
            }
        }
    };
}

metered_cache! {
    /// A [`moka::sync::Cache`] that counts its operations. Clones share the cache and the counters.
    MeteredCache, sync, impl FnOnce() -> V, [], []
}

metered_cache! {
    /// A [`moka::future::Cache`] that counts its operations. Clones share the cache and the counters.
    MeteredFutureCache, future, impl Future<Output = V>, [async], [.await]
}
