//! One monitor row: read from the service's `/api/v1/metrics` snapshot (otelwright-health's JSON), or the error
//! that stood in the way, and its table and CSV renderings.

use otelwright_health::MetricsDocument;
use time::OffsetDateTime;

/// The live table's header.
pub(crate) const TABLE_HEADER: &str = "Time     |  CPU% |  Mem% | Mem(MB) | API(ms) | DB Pool | Cache Hit% | Status";
/// The CSV header.
pub(crate) const CSV_HEADER: &str = "time,cpu_percent,memory_percent,memory_mb,api_ms,pool_active,pool_size,pool_max,\
pool_utilization_percent,cache_hit_percent,requests_p95_ms,status";

/// One poll.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub(crate) time: OffsetDateTime,
    /// This process's CPU use, of the CPUs available to it.
    pub(crate) cpu_percent: Option<f64>,
    /// Memory used on the host (or of the container's limit).
    pub(crate) memory_percent: Option<f64>,
    /// This process's resident memory.
    pub(crate) memory_mb: Option<f64>,
    /// How long the snapshot took to answer: the API's response time as a client sees it.
    pub(crate) api_ms: Option<f64>,
    pub(crate) pool_active: Option<u64>,
    pub(crate) pool_size: Option<u64>,
    pub(crate) pool_max: Option<u64>,
    pub(crate) pool_utilization: Option<f64>,
    pub(crate) cache_hit_percent: Option<f64>,
    /// p95 of the service's own requests over its window (what its histogram says).
    pub(crate) requests_p95_ms: Option<f64>,
    /// `OK`, `HTTP 401`, or the error (connection refused, timeout, ...).
    pub(crate) status: String,
}

impl Sample {
    /// A row from a snapshot document.
    pub(crate) fn from_snapshot(time: OffsetDateTime, api_ms: f64, doc: &MetricsDocument) -> Sample {
        let system = doc.system.get();
        let pool = doc.database.get();
        Sample {
            time,
            cpu_percent: system.and_then(|s| s.cpu_percent),
            memory_percent: system.and_then(|s| s.memory_percent),
            memory_mb: system.map(|s| s.memory_mb),
            api_ms: Some(api_ms),
            pool_active: pool.and_then(|p| p.pool_active),
            pool_size: pool.and_then(|p| p.pool_size),
            pool_max: pool.and_then(|p| p.pool_max_size),
            pool_utilization: pool.and_then(|p| p.pool_utilization_percent),
            cache_hit_percent: doc.cache.get().and_then(|c| c.hit_rate_percent),
            requests_p95_ms: doc.requests.get().and_then(|r| r.figures.p95_ms),
            status: "OK".to_owned(),
        }
    }

    /// A row for a poll that got no snapshot.
    pub(crate) fn failed(time: OffsetDateTime, api_ms: Option<f64>, status: String) -> Sample {
        Sample {
            time,
            cpu_percent: None,
            memory_percent: None,
            memory_mb: None,
            api_ms,
            pool_active: None,
            pool_size: None,
            pool_max: None,
            pool_utilization: None,
            cache_hit_percent: None,
            requests_p95_ms: None,
            status,
        }
    }

    pub(crate) fn is_ok(&self) -> bool {
        self.status == "OK"
    }

    /// `active/size`, or `-`.
    fn pool(&self) -> String {
        match (self.pool_active, self.pool_size) {
            (Some(a), Some(s)) => format!("{a}/{s}"),
            _ => "-".to_owned(),
        }
    }

    pub(crate) fn table_row(&self) -> String {
        let t = self.time;
        format!(
            "{:02}:{:02}:{:02} | {:>5} | {:>5} | {:>7} | {:>7} | {:>7} | {:>10} | {}",
            t.hour(),
            t.minute(),
            t.second(),
            num(self.cpu_percent, 1),
            num(self.memory_percent, 1),
            num(self.memory_mb, 1),
            num(self.api_ms, 1),
            self.pool(),
            num(self.cache_hit_percent, 1),
            self.status
        )
    }

    pub(crate) fn csv_row(&self) -> String {
        let time = self.time.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let cell = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_default();
        let int = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        [
            time,
            cell(self.cpu_percent),
            cell(self.memory_percent),
            cell(self.memory_mb),
            cell(self.api_ms),
            int(self.pool_active),
            int(self.pool_size),
            int(self.pool_max),
            cell(self.pool_utilization),
            cell(self.cache_hit_percent),
            cell(self.requests_p95_ms),
            csv_quote(&self.status),
        ]
        .join(",")
    }
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

/// Quotes a CSV field that needs it (RFC 4180).
fn csv_quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_from_a_snapshot_and_from_an_error() {
        let doc: MetricsDocument = serde_json::from_value(serde_json::json!({
            "timestamp": "2026-01-18T14:23:45.000000Z",
            "system": { "enabled": true, "cpu_percent": 12.5, "memory_percent": 40.0, "memory_mb": 35.25,
                        "memory_available_mb": 1000.0, "disk_read_mb": 0.0, "disk_write_mb": 0.0 },
            "database": { "enabled": true, "name": "main", "pool_size": 3, "pool_available": 2, "pool_active": 1,
                          "pool_min_size": null, "pool_max_size": 8, "pool_utilization_percent": 12.5 },
            "databases": {},
            "cache": { "enabled": true, "name": "users", "hits": 0, "misses": 0, "sets": null, "deletes": null,
                       "errors": null, "total_reads": 0, "hit_rate_percent": null },
            "caches": {},
            "requests": { "enabled": false }
        }))
        .unwrap();
        let t = OffsetDateTime::from_unix_timestamp(1_768_746_225).unwrap();
        let s = Sample::from_snapshot(t, 3.456, &doc);
        assert_eq!(s.table_row(), "14:23:45 |  12.5 |  40.0 |    35.2 |     3.5 |     1/3 |          - | OK");
        assert_eq!(s.csv_row(), "2026-01-18T14:23:45Z,12.50,40.00,35.25,3.46,1,3,8,12.50,,,OK");
        let down = Sample::failed(t, None, "error: connection refused, \"later\"".into());
        assert!(!down.is_ok());
        assert!(
            down.csv_row().ends_with(",,,,,,,,,,,\"error: connection refused, \"\"later\"\"\""),
            "{}",
            down.csv_row()
        );
        // Twelve columns: eleven separators, plus the comma inside the quoted status.
        assert_eq!(CSV_HEADER.split(',').count(), down.csv_row().matches(',').count());
    }
}
