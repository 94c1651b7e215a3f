//! The `GET /api/v1/metrics` document as types: [`MetricsDocument`] is what the endpoint writes and what a client
//! (the `otelwright monitor` command) reads, so the field names are spelled once.
//!
//! Rules: a block without a source is `{"enabled": false}` and nothing else ([`Block`]); a field the source does
//! not track (a pool without a minimum size, a cache that counts no sets, a CPU figure before the second sample, a
//! percentile without requests) is `null`. Percentages and MiB figures are rounded to 2 decimals.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::window::RequestFigures;

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsDocument {
    /// When it was taken: RFC 3339, UTC, microseconds (`2026-01-18T14:23:45.123456Z`).
    pub timestamp: String,
    /// This process and the machine (or container) it runs on.
    pub system: Block<SystemBlock>,
    /// The default connection pool (the first registered).
    pub database: Block<PoolBlock>,
    /// Every connection pool, by name.
    pub databases: BTreeMap<String, Block<PoolBlock>>,
    /// The default cache (the first registered).
    pub cache: Block<CacheBlock>,
    /// Every cache, by name.
    pub caches: BTreeMap<String, Block<CacheBlock>>,
    /// The service's own HTTP requests over the request window.
    pub requests: Block<RequestsBlock>,
}

/// A block that is there (`{"enabled": true, ...fields}`) or not configured (`{"enabled": false}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Block<T>(pub Option<T>);

impl<T> Block<T> {
    /// The block's fields, when it is enabled.
    pub fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

/// The wire form of a [`Block`].
#[derive(Serialize, Deserialize)]
struct Tagged<T> {
    enabled: bool,
    #[serde(flatten)]
    fields: Option<T>,
}

impl<T: Serialize> Serialize for Block<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Tagged { enabled: self.0.is_some(), fields: self.0.as_ref() }.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Block<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let tagged = Tagged::<T>::deserialize(deserializer)?;
        match (tagged.enabled, tagged.fields) {
            (true, Some(fields)) => Ok(Block(Some(fields))),
            (true, None) => Err(serde::de::Error::custom("an enabled block without its fields")),
            (false, _) => Ok(Block(None)),
        }
    }
}

/// `system`: this process's CPU and memory, the machine's (or container's) memory, this process's disk I/O.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemBlock {
    /// This process's CPU use, % of the CPUs available to it; `null` before the second sample.
    pub cpu_percent: Option<f64>,
    /// This process's resident memory, MiB.
    pub memory_mb: f64,
    /// Memory used on the host, or of the container's limit, %.
    pub memory_percent: Option<f64>,
    /// Memory available, MiB.
    pub memory_available_mb: f64,
    /// Read by this process since it started, MiB.
    pub disk_read_mb: f64,
    /// Written by this process since it started, MiB.
    pub disk_write_mb: f64,
}

/// One connection pool; the counts are `null` while the pool cannot be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolBlock {
    /// Its name.
    pub name: String,
    /// Open connections.
    pub pool_size: Option<u64>,
    /// Idle connections.
    pub pool_available: Option<u64>,
    /// Connections in use.
    pub pool_active: Option<u64>,
    /// The minimum idle connections, when the pool has one.
    pub pool_min_size: Option<u64>,
    /// The maximum size.
    pub pool_max_size: Option<u64>,
    /// In use ÷ maximum, %.
    pub pool_utilization_percent: Option<f64>,
}

/// One cache; a count the cache does not track is `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheBlock {
    /// Its name.
    pub name: String,
    /// Reads that found the entry.
    pub hits: Option<u64>,
    /// Reads that did not.
    pub misses: Option<u64>,
    /// Writes.
    pub sets: Option<u64>,
    /// Removals.
    pub deletes: Option<u64>,
    /// Failed operations.
    pub errors: Option<u64>,
    /// Hits + misses.
    pub total_reads: Option<u64>,
    /// Hits ÷ reads, %; `null` before the first read.
    pub hit_rate_percent: Option<f64>,
}

/// The service's HTTP requests, from its `http.server.request.duration` histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestsBlock {
    /// The window the counts and percentiles cover, seconds.
    pub window_seconds: f64,
    /// The requests in the window (percentiles rounded to 2 decimals) and since start.
    #[serde(flatten)]
    pub figures: RequestFigures,
    /// Seconds since the histogram was last collected; `null` before the first collection.
    pub collected_seconds_ago: Option<f64>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn blocks_are_tagged_with_enabled() {
        let off: Block<CacheBlock> = Block(None);
        assert_eq!(serde_json::to_value(&off).unwrap(), json!({ "enabled": false }));
        let on = Block(Some(RequestsBlock {
            window_seconds: 60.0,
            figures: RequestFigures {
                count: 3,
                errors: 1,
                p50_ms: Some(1.5),
                p95_ms: None,
                p99_ms: None,
                total_count: 10,
                total_errors: 2,
            },
            collected_seconds_ago: None,
        }));
        let value = serde_json::to_value(&on).unwrap();
        assert_eq!(value["enabled"], true);
        assert_eq!(value["count"], 3);
        assert_eq!(value["p95_ms"], serde_json::Value::Null, "untracked is null, not absent");
        assert_eq!(serde_json::from_value::<Block<RequestsBlock>>(value).unwrap(), on);
        let back: Block<RequestsBlock> = serde_json::from_value(json!({ "enabled": false })).unwrap();
        assert_eq!(back, Block(None));
        let broken = serde_json::from_value::<Block<RequestsBlock>>(json!({ "enabled": true }));
        assert!(broken.is_err(), "an enabled block must carry its fields");
    }
}
