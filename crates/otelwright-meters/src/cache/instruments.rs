//! The `cache.*` observable instruments. Each callback reads every registered cache from memory.

use std::sync::Arc;

use opentelemetry::metrics::Meter;

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
    let r = registry.clone();
    meter
        .u64_observable_counter(n::ERRORS)
        .with_unit("{error}")
        .with_description("Failed cache operations")
        .with_callback(move |o| {
            for e in r.entries().iter() {
                if let Some(v) = e.read().and_then(|c| c.errors) {
                    o.observe(v, &e.attrs.base);
                }
            }
        })
        .build();
    let r = registry.clone();
    meter
        .u64_observable_counter(n::EVICTIONS)
        .with_unit("{eviction}")
        .with_description("Entries the cache removed on its own (capacity or expiry)")
        .with_callback(move |o| {
            for e in r.entries().iter() {
                if let Some(v) = e.read().and_then(|c| c.evictions) {
                    o.observe(v, &e.attrs.base);
                }
            }
        })
        .build();
    let r = registry.clone();
    meter
        .i64_observable_up_down_counter(n::ENTRY_COUNT)
        .with_unit("{entry}")
        .with_description("Entries in the cache")
        .with_callback(move |o| {
            for e in r.entries().iter() {
                if let Some(v) = e.read().and_then(|c| c.entries) {
                    o.observe(i64::try_from(v).unwrap_or(i64::MAX), &e.attrs.base);
                }
            }
        })
        .build();
    let r = registry;
    meter
        .f64_observable_gauge(n::HIT_RATIO)
        .with_unit("1")
        .with_description("Hits / (hits + misses) since the source started counting")
        .with_callback(move |o| {
            for e in r.entries().iter() {
                if let Some(ratio) = e.read().and_then(|c| c.hit_ratio()) {
                    o.observe(ratio, &e.attrs.base);
                }
            }
        })
        .build();
}
