//! The `GET /api/v1/metrics` document ([`MetricsDocument`]), built from the same sources the meters export: the
//! meters crate's resource, pool and cache snapshots and the request window fed by the HTTP duration histogram.

use std::time::Duration;

use otelwright_meters::{CacheMeters, CacheSnapshot, PoolMeter, PoolSnapshot, ResourceMeter, ResourceSnapshot};
use time::OffsetDateTime;

use crate::document::{Block, CacheBlock, MetricsDocument, PoolBlock, RequestsBlock, SystemBlock};
use crate::window::{RequestFigures, RequestStats, RequestWindow};

const MIB: f64 = 1024.0 * 1024.0;

/// The sources of the snapshot.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sources {
    pub(crate) resources: Option<ResourceMeter>,
    pub(crate) pools: Option<PoolMeter>,
    pub(crate) caches: Option<CacheMeters>,
    pub(crate) window: Option<RequestWindow>,
}

impl Sources {
    /// Reads every source now.
    pub(crate) fn snapshot(&self) -> MetricsDocument {
        let pools = self.pools.as_ref().map(PoolMeter::snapshot);
        let caches = self.caches.as_ref().map(CacheMeters::snapshot);
        MetricsDocument {
            timestamp: timestamp(OffsetDateTime::now_utc()),
            system: Block(self.resources.as_ref().map(|r| system(&r.snapshot()))),
            database: Block(pools.as_ref().and_then(|p| p.default_pool()).map(pool)),
            databases: pools
                .iter()
                .flat_map(|p| &p.pools)
                .map(|p| (p.name.to_string(), Block(Some(pool(p)))))
                .collect(),
            cache: Block(caches.as_ref().and_then(|c| c.default_cache()).map(cache)),
            caches: caches
                .iter()
                .flat_map(|c| &c.caches)
                .map(|c| (c.name.to_string(), Block(Some(cache(c)))))
                .collect(),
            requests: Block(self.window.as_ref().map(|w| requests(&w.stats()))),
        }
    }
}

/// Rounds to 2 decimals.
pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn percent(ratio: Option<f64>) -> Option<f64> {
    ratio.map(|r| round2(r * 100.0))
}

fn system(r: &ResourceSnapshot) -> SystemBlock {
    SystemBlock {
        cpu_percent: percent(r.process.cpu_utilization),
        memory_mb: round2(r.process.memory_rss_mb()),
        memory_percent: percent(r.system.memory_utilization),
        memory_available_mb: round2(r.system.memory_available_mb()),
        disk_read_mb: round2(r.process.disk_read_bytes as f64 / MIB),
        disk_write_mb: round2(r.process.disk_write_bytes as f64 / MIB),
    }
}

fn pool(p: &PoolSnapshot) -> PoolBlock {
    let s = p.state;
    PoolBlock {
        name: p.name.to_string(),
        pool_size: s.map(|s| s.size),
        pool_available: s.map(|s| s.idle),
        pool_active: s.map(|s| s.used),
        pool_min_size: s.and_then(|s| s.idle_min),
        pool_max_size: s.map(|s| s.max),
        pool_utilization_percent: p.utilization_percent().map(round2),
    }
}

fn cache(c: &CacheSnapshot) -> CacheBlock {
    let n = c.counts;
    CacheBlock {
        name: c.name.to_string(),
        hits: n.map(|n| n.hits),
        misses: n.map(|n| n.misses),
        sets: n.and_then(|n| n.sets),
        deletes: n.and_then(|n| n.deletes),
        errors: n.and_then(|n| n.errors),
        total_reads: n.map(|n| n.total_reads()),
        hit_rate_percent: c.hit_rate_percent().map(round2),
    }
}

fn requests(s: &RequestStats) -> RequestsBlock {
    RequestsBlock {
        window_seconds: s.window.as_secs_f64(),
        figures: RequestFigures {
            p50_ms: s.figures.p50_ms.map(round2),
            p95_ms: s.figures.p95_ms.map(round2),
            p99_ms: s.figures.p99_ms.map(round2),
            ..s.figures
        },
        collected_seconds_ago: s.last_collection_age.as_ref().map(Duration::as_secs_f64).map(round2),
    }
}

/// RFC 3339, UTC, microseconds: `2026-01-18T14:23:45.123456Z`.
pub(crate) fn timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_768_746_225_123_456_789).unwrap();
        assert_eq!(timestamp(t), "2026-01-18T14:23:45.123456Z");
        let offset = t.to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        assert_eq!(timestamp(offset), "2026-01-18T14:23:45.123456Z");
    }

    #[test]
    fn blocks_without_a_source_say_so() {
        let v = serde_json::to_value(Sources::default().snapshot()).unwrap();
        for block in ["system", "database", "cache", "requests"] {
            assert_eq!(v[block], json!({ "enabled": false }), "{block}");
        }
        assert_eq!((v["databases"].clone(), v["caches"].clone()), (json!({}), json!({})));
    }

    #[test]
    fn unknown_counts_are_null_not_zero() {
        let caches = CacheMeters::new();
        caches.meter("users").hit();
        let sources = Sources { caches: Some(caches), ..Default::default() };
        let v = serde_json::to_value(sources.snapshot()).unwrap();
        assert_eq!(v["cache"]["hits"], 1);
        assert_eq!(v["cache"]["hit_rate_percent"], 100.0);
        assert_eq!(v["caches"]["users"]["name"], "users");
        let pools = PoolMeter::new();
        struct Failing;
        impl otelwright_meters::PoolStats for Failing {
            fn state(&self) -> Result<otelwright_meters::PoolState, otelwright_meters::SourceError> {
                Err(otelwright_meters::SourceError::NotReady)
            }
        }
        pools.add_without_ping("main", Failing);
        let v = serde_json::to_value(Sources { pools: Some(pools), ..Default::default() }.snapshot()).unwrap();
        assert_eq!(v["database"]["enabled"], true);
        assert!(v["database"]["pool_size"].is_null());
    }
}
