//! `GET /api/v1/metrics` against real sources: every pool and cache number equals what the pool and the cache
//! report themselves, the system block equals the resource sampler's snapshot, and the requests block equals
//! what the HTTP layer recorded — cross-checked against the Prometheus exposition of the same provider.

use crate::common;

use std::time::Duration;

use common::fixture::service;
use otelwright_meters::PoolStats;
use otelwright_meters::pool::sqlx::SqlxPool;
use serde_json::{Value, json};

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[tokio::test]
async fn the_snapshot_reports_the_sources_own_numbers() {
    let svc = service(|b| b.cache(Duration::ZERO)).await;
    for _ in 0..20 {
        assert_eq!(svc.server.get("/work").await.status, 200);
    }
    for _ in 0..5 {
        assert_eq!(svc.server.get("/fail").await.status, 500);
    }
    svc.provider.force_flush().expect("flush feeds the request window");

    let answer = svc.server.get("/api/v1/metrics").await;
    assert_eq!((answer.status, answer.content_type.as_str()), (200, "application/json"));
    let v = answer.json();

    // The pool's own numbers, read through the adapter.
    let own = SqlxPool::new(svc.main.clone()).state().unwrap();
    assert_eq!((own.size, own.idle, own.used), (3, 1, 2));
    let expected_pool = json!({
        "enabled": true,
        "name": "main",
        "pool_size": own.size,
        "pool_available": own.idle,
        "pool_active": own.used,
        "pool_min_size": own.idle_min,
        "pool_max_size": own.max,
        "pool_utilization_percent": round2(own.used as f64 / own.max as f64 * 100.0),
    });
    assert_eq!(v["database"], expected_pool, "the default pool is the first registered");
    assert_eq!(v["databases"]["main"], expected_pool);
    assert_eq!(v["databases"]["reports"]["pool_max_size"], 2);
    assert_eq!(v["databases"].as_object().unwrap().len(), 2);

    // The cache's own counts.
    let counts = svc.users.counts();
    assert_eq!(
        v["cache"],
        json!({
            "enabled": true,
            "name": "users",
            "hits": counts.hits,
            "misses": counts.misses,
            "sets": counts.sets,
            "deletes": counts.deletes,
            "errors": counts.errors,
            "total_reads": counts.hits + counts.misses,
            "hit_rate_percent": round2(counts.hits as f64 * 100.0 / (counts.hits + counts.misses) as f64),
        })
    );
    assert_eq!((v["cache"]["hits"].clone(), v["cache"]["hit_rate_percent"].clone()), (json!(7), json!(77.78)));
    assert_eq!(v["caches"]["sessions"]["misses"], 1);

    // The sampler's snapshot (manual mode: it does not change between the two reads).
    let r = svc.meters.resources.as_ref().unwrap().snapshot();
    let system = &v["system"];
    assert_eq!(system["enabled"], true);
    assert_eq!(system["memory_mb"], round2(r.process.memory_rss_mb()));
    assert_eq!(system["memory_available_mb"], round2(r.system.memory_available_mb()));
    assert_eq!(system["disk_read_mb"], round2(r.process.disk_read_bytes as f64 / 1048576.0));
    assert_eq!(system["memory_percent"], json!(r.system.memory_utilization.map(|u| round2(u * 100.0))));
    assert_eq!(system["cpu_percent"], json!(r.process.cpu_utilization.map(|u| round2(u * 100.0))));

    // What the HTTP layer recorded: 25 requests, the 5 answered 500 are errors.
    let requests = &v["requests"];
    assert_eq!((requests["count"].clone(), requests["errors"].clone()), (json!(25), json!(5)), "{requests}");
    let p = |k: &str| requests[k].as_f64().unwrap_or_else(|| panic!("{k} missing: {requests}"));
    assert!(0.0 < p("p50_ms") && p("p50_ms") <= p("p95_ms") && p("p95_ms") <= p("p99_ms"), "{requests}");
    assert_eq!(requests["window_seconds"], 300.0);

    // The same histogram through the Prometheus reader: its count for the two routes is the window's count.
    if cfg!(feature = "prometheus") {
        let text = svc.server.get("/metrics").await.body;
        let prometheus_count: f64 = text
            .lines()
            .filter(|l| l.starts_with("http_server_request_duration_seconds_count{"))
            .filter(|l| l.contains(r#"http_route="/work""#) || l.contains(r#"http_route="/fail""#))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum();
        assert_eq!(prometheus_count, 25.0, "{text}");
    }

    let ts = v["timestamp"].as_str().unwrap();
    assert_eq!((ts.len(), &ts[10..11], &ts[19..20], &ts[26..]), (27, "T", ".", "Z"), "{ts}");

    // The typed document a client reads (`otelwright monitor`) is the same document.
    let doc: otelwright_health::MetricsDocument = serde_json::from_value(v.clone()).expect("the typed document");
    assert_eq!(serde_json::to_value(&doc).unwrap(), v, "nothing lost or renamed between the two");
    let pool = doc.database.get().expect("the default pool");
    assert_eq!((pool.name.as_str(), pool.pool_size), ("main", Some(own.size)));
    drop(svc.held);
}

#[tokio::test]
async fn the_snapshot_is_cached_per_endpoint() {
    let svc = service(|b| b.snapshot_cache(Duration::from_secs(3600))).await;
    let first: Value = svc.server.get("/api/v1/metrics").await.json();
    svc.users.hit();
    let second: Value = svc.server.get("/api/v1/metrics").await.json();
    assert_eq!(first, second, "within the cache time the same document is served");
    assert_eq!(svc.server.get("/health/ready").await.status, 200, "other endpoints are not held by this cache");
}
