//! [`CacheMeters`]: the registry of a service's caches, and the [`CachesSnapshot`] that the metric callbacks
//! and the JSON metrics endpoint both read.

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;
use serde::Serialize;

use super::{CacheCounts, CacheMeter, CacheStats};
use crate::names::attr;
use crate::registry::{Named, Registry};
use crate::source::SourceGuard;

/// Precomputed attribute sets for one cache.
pub(super) struct CacheAttrs {
    pub(super) base: [KeyValue; 1],
    pub(super) hit: [KeyValue; 2],
    pub(super) miss: [KeyValue; 2],
    pub(super) set: [KeyValue; 2],
    pub(super) delete: [KeyValue; 2],
}

pub(super) struct CacheEntry {
    pub(super) name: Arc<str>,
    pub(super) attrs: CacheAttrs,
    source: Arc<dyn CacheStats>,
    guard: SourceGuard,
}

impl Named for CacheEntry {
    fn name(&self) -> &str {
        &self.name
    }
}

impl CacheEntry {
    /// The source's counts; `None` (logged once) when it failed or panicked.
    pub(super) fn read(&self) -> Option<CacheCounts> {
        self.guard.read("cache", &self.name, || self.source.stats())
    }
}

/// The caches of a service: cheap to clone (an `Arc`), shared by the OTel callbacks and by HTTP handlers.
#[derive(Clone, Default)]
pub struct CacheMeters {
    registry: Arc<Registry<CacheEntry>>,
}

impl std::fmt::Debug for CacheMeters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.registry.entries().iter().map(|e| e.name.to_string()).collect();
        f.debug_struct("CacheMeters").field("caches", &names).finish()
    }
}

impl CacheMeters {
    /// An empty registry. Call [`CacheMeters::register_instruments`] once to export it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the `cache.*` observable instruments on `meter`. Call once per meter; caches added later are
    /// exported too.
    pub fn register_instruments(&self, meter: &Meter) {
        super::instruments::register(meter, self.registry.clone());
    }

    /// A new [`CacheMeter`] registered as cache `name` (replacing any cache of that name).
    pub fn meter(&self, name: &str) -> CacheMeter {
        let meter = CacheMeter::new();
        self.add(name, meter.clone());
        meter
    }

    /// Registers a cache that keeps its own counters (a moka wrapper, the Redis poller, your own).
    pub fn add(&self, name: &str, source: impl CacheStats) {
        let name: Arc<str> = Arc::from(name);
        let key = KeyValue::new(attr::CACHE_NAME, name.to_string());
        let pair = |k: &'static str, v: &'static str| [key.clone(), KeyValue::new(k, v)];
        let attrs = CacheAttrs {
            base: [key.clone()],
            hit: pair(attr::CACHE_RESULT, "hit"),
            miss: pair(attr::CACHE_RESULT, "miss"),
            set: pair(attr::CACHE_OPERATION, "set"),
            delete: pair(attr::CACHE_OPERATION, "delete"),
        };
        let entry = CacheEntry { name, attrs, source: Arc::new(source), guard: SourceGuard::default() };
        self.registry.add(Arc::new(entry));
    }

    /// Stops exporting cache `name`; returns whether it was registered.
    pub fn remove(&self, name: &str) -> bool {
        self.registry.remove(name)
    }

    /// Makes `name` the default cache of [`CachesSnapshot::default_cache`] (else the first registered).
    pub fn set_default(&self, name: &str) {
        self.registry.set_default(name);
    }

    /// Reads every cache now (from memory: counters or the latest polled values).
    pub fn snapshot(&self) -> CachesSnapshot {
        let caches = self
            .registry
            .entries()
            .iter()
            .map(|e| {
                let counts = e.read();
                CacheSnapshot { name: e.name.clone(), counts, hit_ratio: counts.and_then(|c| c.hit_ratio()) }
            })
            .collect();
        CachesSnapshot { default: self.registry.default_name(), caches }
    }

    /// One cache's counts, read now.
    pub fn get(&self, name: &str) -> Option<CacheSnapshot> {
        let e = self.registry.get(name)?;
        let counts = e.read();
        Some(CacheSnapshot { name: e.name.clone(), counts, hit_ratio: counts.and_then(|c| c.hit_ratio()) })
    }
}

/// One cache as read by [`CacheMeters::snapshot`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheSnapshot {
    /// The `cache.name`.
    pub name: Arc<str>,
    /// The counts, `None` when the source has none (not ready, failing or quarantined).
    pub counts: Option<CacheCounts>,
    /// Hits ÷ (hits + misses), as exported in `cache.hit_ratio`.
    pub hit_ratio: Option<f64>,
}

impl CacheSnapshot {
    /// Hits plus misses (0 when unknown).
    pub fn total_reads(&self) -> u64 {
        self.counts.map_or(0, |c| c.total_reads())
    }

    /// The hit ratio in percent.
    pub fn hit_rate_percent(&self) -> Option<f64> {
        self.hit_ratio.map(|r| r * 100.0)
    }
}

/// Every registered cache, read at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CachesSnapshot {
    /// The default cache's name.
    pub default: Option<Arc<str>>,
    /// All caches in registration order.
    pub caches: Vec<CacheSnapshot>,
}

impl CachesSnapshot {
    /// The cache named `name`.
    pub fn get(&self, name: &str) -> Option<&CacheSnapshot> {
        self.caches.iter().find(|c| &*c.name == name)
    }

    /// The default cache.
    pub fn default_cache(&self) -> Option<&CacheSnapshot> {
        self.default.as_deref().and_then(|n| self.get(n))
    }
}
