//! Liveness and readiness over a real loopback socket: the JSON shapes, 404/405, a failing, a hanging and a
//! panicking check (each a 503 naming the check), the disk-space threshold, and the result cache that keeps a
//! storm of probes from running the checks once per probe.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::serve;
use otelwright_health::{DiskSpaceCheck, Health};
use serde_json::json;

#[tokio::test]
async fn live_is_always_open_and_checks_nothing() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let health = Health::builder()
        .token("s3cret")
        .check("never-run", move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>("down") }
        })
        .build();
    let server = serve(health.router()).await;
    let live = server.get("/health/live").await;
    assert_eq!(
        (live.status, live.content_type.as_str(), live.body.as_str()),
        (200, "application/json", r#"{"status":"alive"}"#)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0, "liveness runs no check");

    assert_eq!(server.request(reqwest::Method::POST, "/health/live", None).await.status, 405);
    assert_eq!(server.get("/health/nope").await.status, 404);
    assert_eq!(server.request(reqwest::Method::HEAD, "/health/live", None).await.status, 200);
}

#[tokio::test]
async fn ready_lists_every_check_with_its_duration() {
    let health = Health::builder()
        .without_token()
        .check("fast", || async { Ok::<(), String>(()) })
        .check("slow", || async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok::<(), String>(())
        })
        .build();
    let server = serve(health.router()).await;
    let ready = server.get("/health/ready").await;
    assert_eq!(ready.status, 200);
    let body = ready.json();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["fast"]["status"], "ok");
    assert!(body["checks"]["slow"]["duration_ms"].as_f64().unwrap() >= 30.0, "{body}");
    assert_eq!(body["checks"].as_object().unwrap().len(), 2);

    let uptime = body["uptime_seconds"].as_f64().expect("uptime_seconds");
    assert!(uptime >= 0.0, "{body}");

    let empty = serve(Health::builder().without_token().build().router()).await;
    let mut body = empty.get("/health/ready").await.json();
    assert!(body["uptime_seconds"].as_f64().is_some(), "{body}");
    body.as_object_mut().unwrap().remove("uptime_seconds");
    assert_eq!(body, json!({"status": "ready", "checks": {}}));
}

/// A failing non-critical check leaves the service ready but degraded (200), and says which check; a failing
/// critical one beside it still makes it not ready (503).
#[tokio::test]
async fn a_failing_non_critical_check_degrades_without_unreadying() {
    let health = Health::builder()
        .without_token()
        .check("database", || async { Ok::<(), String>(()) })
        .non_critical_check("recommendations", || async { Err::<(), _>("backend unreachable") })
        .build();
    let server = serve(health.router()).await;
    let ready = server.get("/health/ready").await;
    assert_eq!(ready.status, 200, "degraded is still ready");
    let body = ready.json();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["recommendations"]["status"], "error");
    assert_eq!(body["checks"]["recommendations"]["error"], "backend unreachable");
    assert_eq!(body["checks"]["recommendations"]["critical"], false);
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(body["checks"]["database"].get("critical"), None, "critical is the default and not repeated");
    let report = health.ready_report().await;
    assert!(report.is_ready() && report.is_degraded());

    let health = Health::builder()
        .without_token()
        .check("database", || async { Err::<(), _>("refused") })
        .non_critical_check("recommendations", || async { Err::<(), _>("backend unreachable") })
        .build();
    let server = serve(health.router()).await;
    let ready = server.get("/health/ready").await;
    assert_eq!((ready.status, ready.json()["status"].as_str()), (503, Some("not_ready")));
    let report = health.ready_report().await;
    assert!(!report.is_ready() && !report.is_degraded());
}

#[tokio::test]
async fn a_hanging_check_turns_ready_into_503_at_its_timeout() {
    let health = Health::builder()
        .without_token()
        .ready_cache(Duration::ZERO)
        .check("fine", || async { Ok::<(), String>(()) })
        .check_with_timeout("hangs", Duration::from_millis(300), std::future::pending::<Result<(), String>>)
        .check("panics", || async {
            if true {
                panic!("check bug");
            }
            Ok::<(), String>(())
        })
        .build();
    let server = serve(health.router()).await;
    // `get` bounds the call at 20 s; the answer arrives at the 300 ms timeout.
    let ready = server.get("/health/ready").await;
    assert_eq!(ready.status, 503);
    let body = ready.json();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["hangs"]["status"], "error");
    assert_eq!(body["checks"]["hangs"]["error"], "timed out after 300 ms");
    assert!(body["checks"]["hangs"]["duration_ms"].as_f64().unwrap() >= 300.0);
    assert_eq!(body["checks"]["panics"]["error"], "panicked: check bug");
    assert_eq!(body["checks"]["fine"]["status"], "ok");
}

#[tokio::test]
async fn disk_space_threshold() {
    let dir = std::env::temp_dir();
    let free = DiskSpaceCheck::free_bytes(&dir).expect("statvfs works on the temp dir");
    assert!(free > 0);
    let health = Health::builder()
        .without_token()
        .ready_cache(Duration::ZERO)
        .check("roomy", DiskSpaceCheck::new(&dir).min_free_bytes(1))
        .check("full", DiskSpaceCheck::new(&dir).min_free_bytes(free.saturating_mul(2).saturating_add(1 << 30)))
        .check("missing", DiskSpaceCheck::new("/definitely/not/here"))
        .build();
    let server = serve(health.router()).await;
    let ready = server.get("/health/ready").await;
    assert_eq!(ready.status, 503);
    let body = ready.json();
    assert_eq!(body["checks"]["roomy"]["status"], "ok");
    let full = body["checks"]["full"]["error"].as_str().unwrap();
    assert!(full.contains("free, below the") && full.contains(dir.to_str().unwrap()), "{full}");
    assert!(body["checks"]["missing"]["error"].as_str().unwrap().contains("/definitely/not/here"));

    // The default threshold is 1 GiB, and the convenience method names the check after the path.
    let default = Health::builder().without_token().disk_space_check(&dir).build();
    let body = serve(default.router()).await.get("/health/ready").await.json();
    let name = format!("disk:{}", dir.display());
    let expected = if free >= 1 << 30 { "ok" } else { "error" };
    assert_eq!(body["checks"][&name]["status"], expected, "{body}");
}

#[tokio::test]
async fn a_probe_storm_runs_the_checks_once_per_cache_period() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let health = Health::builder()
        .without_token()
        .ready_cache(Duration::from_secs(60))
        .check("database", move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<(), String>(())
            }
        })
        .build();
    let server = Arc::new(serve(health.router()).await);
    let probes: Vec<_> = (0..50)
        .map(|_| {
            let server = server.clone();
            tokio::spawn(async move { server.get("/health/ready").await.status })
        })
        .collect();
    for p in probes {
        assert_eq!(p.await.unwrap(), 200);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1, "50 concurrent probes, one run of the checks");

    // Without a cache every probe runs the checks.
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let uncached = Health::builder()
        .without_token()
        .ready_cache(Duration::ZERO)
        .check("c", move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok::<(), String>(()) }
        })
        .build();
    let server = serve(uncached.router()).await;
    for _ in 0..3 {
        server.get("/health/ready").await;
    }
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}
