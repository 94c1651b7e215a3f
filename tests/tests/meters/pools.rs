//! Connection-pool meters end to end: real pools (sqlx on PostgreSQL and on SQLite, deadpool-postgres, bb8)
//! hold N connections, a service exports over OTLP/gRPC to otelwright-receiver, and the values received equal
//! the pools' own numbers read at the same moment.
//!
//! PostgreSQL comes from `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`, then user `root`).
//! With `CI` set an unreachable database fails the test; elsewhere the test says it was skipped. The metric
//! interval is long so that only the explicit flushes export, and every export shows a quiescent pool.

use std::time::{Duration, Instant};

use otelwright_meters::names::{attr, pool as n};
use otelwright_meters::pool::{bb8::Bb8Pool, deadpool::DeadpoolPool, sqlx::SqlxPool};
use otelwright_meters::{PoolMeter, PoolState};
use otelwright_receiver::{MetricKind, ReceivedMetric};
use otelwright_test_support::{Pipeline, postgres_url};

struct Service {
    pipeline: Pipeline,
    pools: PoolMeter,
}

async fn service(name: &str) -> Service {
    let pipeline = Pipeline::start(name, |c| c.metric_interval(Duration::from_secs(3600))).await;
    let pools = PoolMeter::new();
    pools.register_instruments(&pipeline.telemetry.meter("otelwright-meters"));
    Service { pipeline, pools }
}

impl Service {
    /// Forces one export and returns what it carried.
    async fn export(&self) -> Vec<ReceivedMetric> {
        self.pipeline.export_metrics(n::COUNT).await
    }

    async fn finish(self) {
        self.pipeline.finish().await;
    }
}

/// The value of metric `name` for `pool` (and `state`, when given) in the latest export.
fn value(metrics: &[ReceivedMetric], name: &str, pool: &str, state: Option<&str>) -> Option<f64> {
    let metric = metrics.iter().rev().find(|m| m.name() == name)?;
    metric
        .number_points()
        .into_iter()
        .find(|p| {
            p.attr_str(attr::POOL_NAME).as_deref() == Some(pool)
                && state.is_none_or(|s| p.attr_str(attr::POOL_STATE).as_deref() == Some(s))
        })
        .map(|p| p.value)
}

fn histogram_count(metrics: &[ReceivedMetric], name: &str, pool: &str) -> u64 {
    let Some(metric) = metrics.iter().rev().find(|m| m.name() == name) else { return 0 };
    assert_eq!((metric.kind(), metric.unit()), (MetricKind::Histogram, "s"));
    metric
        .histogram_points()
        .into_iter()
        .find(|p| p.attr_str(attr::POOL_NAME).as_deref() == Some(pool))
        .map_or(0, |p| p.count)
}

/// Asserts that the export carries exactly `own` (the pool's own numbers) for `pool`.
fn assert_exported(metrics: &[ReceivedMetric], pool: &str, own: PoolState) {
    let v = |name, state| value(metrics, name, pool, state);
    assert_eq!(v(n::COUNT, Some("used")), Some(own.used as f64), "{pool}: used");
    assert_eq!(v(n::COUNT, Some("idle")), Some(own.idle as f64), "{pool}: idle");
    assert_eq!(v(n::MAX, None), Some(own.max as f64), "{pool}: max");
    assert_eq!(v(n::IDLE_MIN, None), own.idle_min.map(|x| x as f64), "{pool}: idle.min");
    assert_eq!(v(n::IDLE_MAX, None), own.idle_max.map(|x| x as f64), "{pool}: idle.max");
    assert_eq!(v(n::PENDING_REQUESTS, None), own.pending.map(|x| x as f64), "{pool}: pending");
    let count = metrics.iter().rev().find(|m| m.name() == n::COUNT).unwrap();
    assert_eq!((count.unit(), count.is_monotonic()), ("{connection}", Some(false)));
}

/// Waits until `read` gives `want` (pools return connections asynchronously).
async fn wait_for<T: PartialEq + std::fmt::Debug>(read: impl Fn() -> T, want: T) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while read() != want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(read(), want);
}

impl Service {
    /// Exports while the pool's own numbers (`read`) stay the same before and after the export, and returns
    /// both: the comparison is only meaningful for a pool that did not change meanwhile.
    async fn export_stable<T: PartialEq + Copy>(&self, read: impl Fn() -> T) -> (T, Vec<ReceivedMetric>) {
        for _ in 0..10 {
            let before = read();
            let metrics = self.export().await;
            if read() == before {
                return (before, metrics);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the pool kept changing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlx_postgres_pools() {
    let Some(url) = postgres_url().await else { return };
    let svc = service("meters-sqlx-postgres").await;
    let options = |max| sqlx::postgres::PgPoolOptions::new().max_connections(max);
    let main_pool = options(5).min_connections(0).connect(&url).await.unwrap();
    let small_pool = options(1).acquire_timeout(Duration::from_millis(300)).connect(&url).await.unwrap();
    let main = svc.pools.add("pg-main", SqlxPool::new(main_pool.clone()));
    let small = svc.pools.add("pg-small", SqlxPool::new(small_pool.clone()));

    // Hold 3 connections, return a fourth: used = 3, idle = 1.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut conn = main.acquire().await.unwrap();
        sqlx::query("SELECT 1").execute(&mut **conn).await.unwrap();
        held.push(conn);
    }
    drop(held.pop());
    // The small pool's only connection is held, so the next acquire times out.
    let _only = small.acquire().await.unwrap();
    assert!(matches!(small.acquire().await, Err(sqlx::Error::PoolTimedOut)));

    let own = || (main_pool.size(), main_pool.num_idle());
    wait_for(own, (4, 1)).await;
    let (_, metrics) = svc.export_stable(own).await;
    let mut expected = PoolState::new(4, 1, 5);
    expected.idle_min = Some(0);
    expected.idle_max = Some(5);
    expected.pending = Some(0);
    assert_exported(&metrics, "pg-main", expected);
    assert_eq!(value(&metrics, n::COUNT, "pg-small", Some("used")), Some(1.0));
    assert_eq!(value(&metrics, n::TIMEOUTS, "pg-small", None), Some(1.0));
    assert_eq!(value(&metrics, n::TIMEOUTS, "pg-main", None), Some(0.0));
    assert_eq!(histogram_count(&metrics, n::WAIT_TIME, "pg-main"), 4);
    assert_eq!(histogram_count(&metrics, n::USE_TIME, "pg-main"), 1, "one connection was returned");

    let snapshot = svc.pools.snapshot();
    let main_snapshot = snapshot.default_pool().unwrap();
    assert_eq!((&*main_snapshot.name, main_snapshot.state.unwrap().used), ("pg-main", 3));
    assert_eq!(main_snapshot.utilization_percent(), Some(60.0));
    drop(held);
    assert_eq!(svc.pools.ping("pg-main", Duration::from_secs(5)).await, Ok(()));
    svc.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlx_sqlite_pool() {
    let svc = service("meters-sqlx-sqlite").await;
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(4)
        .min_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    let lite = svc.pools.add("sqlite", SqlxPool::new(pool.clone()));
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut conn = lite.acquire().await.unwrap();
        sqlx::query("SELECT 1").execute(&mut **conn).await.unwrap();
        held.push(conn);
    }
    let ((size, idle), metrics) = svc.export_stable(|| (pool.size(), pool.num_idle())).await;
    assert_eq!((size as usize).saturating_sub(idle), 2);
    let mut expected = PoolState::new(u64::from(size), idle as u64, 4);
    expected.idle_min = Some(1);
    expected.idle_max = Some(4);
    expected.pending = Some(0);
    assert_exported(&metrics, "sqlite", expected);
    drop(held);
    assert_eq!(lite.ping(Duration::from_secs(5)).await, Ok(()));
    svc.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadpool_postgres_pool() {
    let Some(url) = postgres_url().await else { return };
    let svc = service("meters-deadpool").await;
    let mut cfg = deadpool_postgres::Config::new();
    cfg.url = Some(url);
    cfg.pool = Some(deadpool_postgres::PoolConfig::new(4));
    let pool =
        cfg.create_pool(Some(deadpool_postgres::Runtime::Tokio1), deadpool_postgres::tokio_postgres::NoTls).unwrap();
    let dp = svc.pools.add("deadpool", DeadpoolPool::new(pool.clone()));
    let mut held = Vec::new();
    for _ in 0..4 {
        let client = dp.acquire().await.unwrap();
        client.simple_query("SELECT 1").await.unwrap();
        held.push(client);
    }
    drop(held.pop());
    let status = || {
        let s = pool.status();
        (s.size, s.available, s.waiting, s.max_size)
    };
    wait_for(status, (4, 1, 0, 4)).await;
    let (_, metrics) = svc.export_stable(status).await;
    let mut expected = PoolState::new(4, 1, 4);
    expected.idle_max = Some(4);
    expected.pending = Some(0);
    assert_exported(&metrics, "deadpool", expected);
    assert_eq!(histogram_count(&metrics, n::WAIT_TIME, "deadpool"), 4);
    drop(held);
    assert_eq!(svc.pools.ping("deadpool", Duration::from_secs(5)).await, Ok(()));
    svc.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bb8_postgres_pool() {
    let Some(url) = postgres_url().await else { return };
    let svc = service("meters-bb8").await;
    let manager =
        bb8_postgres::PostgresConnectionManager::new_from_stringlike(url.as_str(), bb8_postgres::tokio_postgres::NoTls)
            .unwrap();
    let pool = bb8::Pool::builder().max_size(4).min_idle(Some(1)).build(manager).await.unwrap();
    let b = svc.pools.add("bb8", Bb8Pool::new(pool.clone()));
    let mut held = Vec::new();
    for _ in 0..2 {
        let conn = b.acquire().await.unwrap();
        conn.simple_query("SELECT 1").await.unwrap();
        held.push(conn);
    }
    let ((size, idle, pending), metrics) = svc
        .export_stable(|| {
            let s = pool.state();
            (s.connections, s.idle_connections, s.statistics.pending_gets())
        })
        .await;
    assert_eq!(size - idle, 2, "used = the 2 connections held");
    let mut expected = PoolState::new(u64::from(size), u64::from(idle), 4);
    expected.idle_min = Some(1);
    expected.idle_max = Some(4);
    expected.pending = Some(pending);
    assert_exported(&metrics, "bb8", expected);
    drop(held);
    assert_eq!(b.ping(Duration::from_secs(5)).await, Ok(()));
    svc.finish().await;
}
