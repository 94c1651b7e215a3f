//! Cache meters through a real SDK pipeline: exported values equal the sources' counts, and broken sources
//! are skipped without disturbing the others.

use super::*;
use crate::names::{attr, cache as n};
use crate::testing::Collector;

struct Fixed(CacheCounts);
impl CacheStats for Fixed {
    fn stats(&self) -> Result<CacheCounts, SourceError> {
        Ok(self.0)
    }
}

struct Failing;
impl CacheStats for Failing {
    fn stats(&self) -> Result<CacheCounts, SourceError> {
        Err(SourceError::failed("connection refused"))
    }
}

struct Panicking;
impl CacheStats for Panicking {
    fn stats(&self) -> Result<CacheCounts, SourceError> {
        panic!("cache source bug")
    }
}

fn value(points: &[crate::testing::Point], name: &str, cache: &str, extra: Option<(&str, &str)>) -> Option<f64> {
    points
        .iter()
        .find(|p| {
            p.name == name && p.attr(attr::CACHE_NAME) == Some(cache) && extra.is_none_or(|(k, v)| p.attr(k) == Some(v))
        })
        .map(|p| p.value)
}

#[test]
fn exports_counts_and_isolates_broken_sources() {
    let collector = Collector::new();
    let caches = CacheMeters::new();
    caches.register_instruments(&collector.meter());
    let sessions = caches.meter("sessions");
    caches.add("broken", Failing);
    caches.add("buggy", Panicking);
    caches.add("reads-only", Fixed(CacheCounts { hits: 9, misses: 1, ..Default::default() }));
    for _ in 0..3 {
        sessions.hit();
    }
    sessions.miss();
    sessions.set();
    sessions.set();
    sessions.delete();
    sessions.error();
    sessions.eviction();
    sessions.set_entry_count(5);

    for _ in 0..2 {
        let points = collector.collect();
        let v = |name, extra| value(&points, name, "sessions", extra);
        assert_eq!(v(n::REQUESTS, Some((attr::CACHE_RESULT, "hit"))), Some(3.0));
        assert_eq!(v(n::REQUESTS, Some((attr::CACHE_RESULT, "miss"))), Some(1.0));
        assert_eq!(v(n::OPERATIONS, Some((attr::CACHE_OPERATION, "set"))), Some(2.0));
        assert_eq!(v(n::OPERATIONS, Some((attr::CACHE_OPERATION, "delete"))), Some(1.0));
        assert_eq!(v(n::ERRORS, None), Some(1.0));
        assert_eq!(v(n::EVICTIONS, None), Some(1.0));
        assert_eq!(v(n::ENTRY_COUNT, None), Some(5.0));
        assert_eq!(v(n::HIT_RATIO, None), Some(0.75));
        assert_eq!(value(&points, n::REQUESTS, "reads-only", Some((attr::CACHE_RESULT, "hit"))), Some(9.0));
        assert_eq!(value(&points, n::HIT_RATIO, "reads-only", None), Some(0.9));
        assert_eq!(value(&points, n::OPERATIONS, "reads-only", None), None, "untracked counts are not exported");
        assert!(points.iter().all(|p| !matches!(p.attr(attr::CACHE_NAME), Some("broken" | "buggy"))));
        let units: Vec<_> = points.iter().filter(|p| p.name == n::REQUESTS).map(|p| p.unit.as_str()).collect();
        assert!(units.iter().all(|u| *u == "{request}"));
    }

    let snapshot = caches.snapshot();
    assert_eq!(snapshot.default_cache().map(|c| &*c.name), Some("sessions"));
    let s = snapshot.get("sessions").unwrap();
    assert_eq!((s.total_reads(), s.hit_rate_percent()), (4, Some(75.0)));
    assert_eq!(snapshot.get("broken").unwrap().counts, None);
    caches.set_default("reads-only");
    assert_eq!(caches.snapshot().default_cache().unwrap().total_reads(), 10);
    let json = serde_json::to_value(&snapshot).unwrap();
    assert_eq!(json["caches"][0]["counts"]["hits"], 3);
}

#[test]
fn removed_and_replaced_caches() {
    let caches = CacheMeters::new();
    let first = caches.meter("c");
    first.hit();
    let second = caches.meter("c");
    second.miss();
    let snapshot = caches.snapshot();
    assert_eq!(snapshot.caches.len(), 1);
    assert_eq!(snapshot.caches[0].counts.map(|c| (c.hits, c.misses)), Some((0, 1)));
    assert!(caches.remove("c"));
    assert!(caches.snapshot().caches.is_empty());
}
