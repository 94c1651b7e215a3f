//! Cost of one full collection cycle (resources + 2 real sqlx SQLite pools + 3 caches) and of recording one
//! cache operation.
//!
//! Run: `cargo bench -p otelwright-meters --bench collect`
//!
//! - `cycle/resource_refresh`: the sysinfo refresh the background thread does once per interval.
//! - `cycle/collect_export`: one SDK collection (every observable callback) exported to an in-memory exporter,
//!   through the periodic reader's thread, as `force_flush` does it.
//! - `cycle/full`: both, i.e. everything one export interval costs.
//! - `cycle/snapshot_json`: what the JSON metrics endpoint pays: `Meters::snapshot()` serialized.
//! - `cache_meter/*`: one `CacheMeter::hit()`, alone and with two threads recording at once.

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::metrics::MeterProvider;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use otelwright_meters::cache::moka::{MeteredCache, MeteredFutureCache};
use otelwright_meters::pool::sqlx::SqlxPool;
use otelwright_meters::{CacheMeter, Meters, ResourceConfig};

fn cycle(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // sqlx returns connections to the pool from a task: keep a runtime context until they are dropped.
    let _context = runtime.enter();
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder().with_reader(PeriodicReader::builder(exporter.clone()).build()).build();
    let meters = Meters::new().with_resources(ResourceConfig::default().manual_refresh()).unwrap();
    meters.register_instruments(&provider.meter("bench"));

    // Two real pools, one connection held in each.
    let (_held, _pools) = runtime.block_on(async {
        let mut held = Vec::new();
        let mut pools = Vec::new();
        for name in ["primary", "replica"] {
            let pool =
                sqlx::sqlite::SqlitePoolOptions::new().max_connections(4).connect("sqlite::memory:").await.unwrap();
            let handle = meters.pools.add(name, SqlxPool::new(pool.clone()));
            held.push(handle.acquire().await.unwrap());
            pools.push(pool);
        }
        (held, pools)
    });

    // Three caches: a plain meter, a moka sync cache and a moka future cache, each with some traffic.
    let plain = meters.caches.meter("plain");
    let users: MeteredCache<u64, u64> =
        MeteredCache::build(&meters.caches, "users", moka::sync::Cache::builder().max_capacity(1000));
    let sessions: MeteredFutureCache<u64, u64> =
        MeteredFutureCache::build(&meters.caches, "sessions", moka::future::Cache::builder().max_capacity(1000));
    for i in 0..100 {
        plain.read(i % 3 != 0);
        users.insert(i, i);
        let _ = users.get(&(i * 2));
        runtime.block_on(sessions.insert(i, i));
    }

    let resources = meters.resources.clone().unwrap();
    let collect = || {
        exporter.reset();
        provider.force_flush().unwrap();
    };
    collect();

    let mut group = c.benchmark_group("cycle");
    group.bench_function("resource_refresh", |b| b.iter(|| black_box(resources.refresh())));
    group.bench_function("collect_export", |b| b.iter(collect));
    group.bench_function("full", |b| {
        b.iter(|| {
            black_box(resources.refresh());
            collect();
        })
    });
    group.bench_function("snapshot_json", |b| b.iter(|| black_box(serde_json::to_vec(&meters.snapshot()).unwrap())));
    group.finish();
}

fn cache_meter(c: &mut Criterion) {
    let meter = CacheMeter::new();
    let mut group = c.benchmark_group("cache_meter");
    group.bench_function("hit", |b| b.iter(|| black_box(&meter).hit()));
    group.bench_function("hit_2_threads", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    let m = meter.clone();
                    s.spawn(move || {
                        for _ in 0..iters {
                            black_box(&m).hit();
                        }
                    });
                }
            });
            // Per call on each thread: both threads ran `iters` calls in parallel.
            start.elapsed()
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4))
}

criterion_group! { name = benches; config = config(); targets = cycle, cache_meter }
criterion_main!(benches);
