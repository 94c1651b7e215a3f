//! The `cache.*` observable instruments. Each callback reads every registered cache from memory.

use std::sync::Arc;

use opentelemetry::metrics::{AsyncInstrument, Meter};

use super::CacheCounts;
use super::meters::CacheEntry;
use crate::names::cache as n;
use crate::registry::Registry;

pub(super) fn register(meter: &Meter, registry: Arc<Registry<CacheEntry>>) {
    let r = registry.clone();
    meter
        .u64_observable_counter(n::REQUESTS)
        .with_unit("{request}")
        .with_description("Cache reads by result")
        .with_callback(move |o| {
            for e in r.entries().iter() {
                if let Some(c) = e.read() {
                    o.observe(c.hits, &e.attrs.hit);
                    o.observe(c.misses, &e.attrs.miss);
                }
            }
        })
        .build();
    let r = registry.clone();
    meter
        .u64_observable_counter(n::OPERATIONS)
        .with_unit("{operation}")
        .with_description("Cache writes and removals by operation")
        .with_callback(move |o| {
            for e in r.entries().iter() {
                if let Some(c) = e.read() {
                    if let Some(v) = c.sets {
                        o.observe(v, &e.attrs.set);
                    }
                    if let Some(v) = c.deletes {
                        o.observe(v, &e.attrs.delete);
                    }
                }
            }
        })
        .build();
    meter
        .u64_observable_counter(n::ERRORS)
        .with_unit("{error}")
        .with_description("Failed cache operations")
        .with_callback(each_cache(&registry, |c| c.errors))
        .build();
    meter
        .u64_observable_counter(n::EVICTIONS)
        .with_unit("{eviction}")
        .with_description("Entries the cache removed on its own (capacity or expiry)")
        .with_callback(each_cache(&registry, |c| c.evictions))
        .build();
    meter
        .i64_observable_up_down_counter(n::ENTRY_COUNT)
        .with_unit("{entry}")
        .with_description("Entries in the cache")
        .with_callback(each_cache(&registry, |c| c.entries.map(|v| i64::try_from(v).unwrap_or(i64::MAX))))
        .build();
    meter
        .f64_observable_gauge(n::HIT_RATIO)
        .with_unit("1")
        .with_description("Hits / (hits + misses) since the source started counting")
        .with_callback(each_cache(&registry, CacheCounts::hit_ratio))
        .build();
}

/// A callback that observes what `pick` reads from each registered cache (when the source reports it), on the
/// cache's own attributes.
fn each_cache<T: 'static>(
    registry: &Arc<Registry<CacheEntry>>,
    pick: fn(&CacheCounts) -> Option<T>,
) -> impl Fn(&dyn AsyncInstrument<T>) + Send + Sync + 'static {
    let registry = registry.clone();
    move |o| {
        for e in registry.entries().iter() {
            if let Some(v) = e.read().as_ref().and_then(pick) {
                o.observe(v, &e.attrs.base);
            }
        }
    }
}
