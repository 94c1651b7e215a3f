//! Cache meters end to end: a scripted sequence of operations on a `CacheMeter`, real moka caches (sync and
//! future) and the real Redis are exported over OTLP/gRPC to otelwright-receiver, and the values received equal
//! the sources' own numbers. A Redis that cannot be reached is skipped while the other caches keep exporting.
//!
//! Redis comes from `REDIS_URL` (default `redis://127.0.0.1:6379`). With `CI` set an unreachable Redis fails the
//! test; elsewhere the test says it was skipped. The metric interval is long so that only explicit flushes
//! export.

use std::time::Duration;

use otelwright_meters::cache::moka::{MeteredCache, MeteredFutureCache};
use otelwright_meters::cache::redis::RedisCacheStats;
use otelwright_meters::names::{attr, cache as n};
use otelwright_meters::{CacheCounts, CacheMeters};
use otelwright_receiver::ReceivedMetric;
use otelwright_test_support::{Pipeline, skip_or_fail};

struct Service {
    pipeline: Pipeline,
    caches: CacheMeters,
}

async fn service(name: &str) -> Service {
    let pipeline = Pipeline::start(name, |c| c.metric_interval(Duration::from_secs(3600))).await;
    let caches = CacheMeters::new();
    caches.register_instruments(&pipeline.telemetry.meter("otelwright-meters"));
    Service { pipeline, caches }
}

impl Service {
    async fn export(&self) -> Vec<ReceivedMetric> {
        self.pipeline.export_metrics(n::REQUESTS).await
    }

    async fn finish(self) {
        self.pipeline.finish().await;
    }
}

/// The value of `name` for `cache` (and the extra attribute, when given) in the latest export.
fn value(metrics: &[ReceivedMetric], name: &str, cache: &str, extra: Option<(&str, &str)>) -> Option<f64> {
    let metric = metrics.iter().rev().find(|m| m.name() == name)?;
    metric
        .number_points()
        .into_iter()
        .find(|p| {
            p.attr_str(attr::CACHE_NAME).as_deref() == Some(cache)
                && extra.is_none_or(|(k, v)| p.attr_str(k).as_deref() == Some(v))
        })
        .map(|p| p.value)
}

/// Asserts that the export carries exactly `own` for `cache`; untracked counts must be absent.
fn assert_exported(metrics: &[ReceivedMetric], cache: &str, own: CacheCounts) {
    let v = |name, extra| value(metrics, name, cache, extra);
    let f = |x: Option<u64>| x.map(|x| x as f64);
    assert_eq!(v(n::REQUESTS, Some((attr::CACHE_RESULT, "hit"))), Some(own.hits as f64), "{cache}: hits");
    assert_eq!(v(n::REQUESTS, Some((attr::CACHE_RESULT, "miss"))), Some(own.misses as f64), "{cache}: misses");
    assert_eq!(v(n::OPERATIONS, Some((attr::CACHE_OPERATION, "set"))), f(own.sets), "{cache}: sets");
    assert_eq!(v(n::OPERATIONS, Some((attr::CACHE_OPERATION, "delete"))), f(own.deletes), "{cache}: deletes");
    assert_eq!(v(n::ERRORS, None), f(own.errors), "{cache}: errors");
    assert_eq!(v(n::EVICTIONS, None), f(own.evictions), "{cache}: evictions");
    assert_eq!(v(n::ENTRY_COUNT, None), f(own.entries), "{cache}: entries");
    assert_eq!(v(n::HIT_RATIO, None), own.hit_ratio(), "{cache}: hit ratio");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_meter_and_moka_caches() {
    let svc = service("meters-caches").await;

    // A scripted sequence: h = hit, m = miss, s = set, d = delete, e = error, v = eviction.
    let script = svc.caches.meter("scripted");
    for op in "hhmshhdmsevhh".chars() {
        match op {
            'h' => script.hit(),
            'm' => script.miss(),
            's' => script.set(),
            'd' => script.delete(),
            'e' => script.error(),
            'v' => script.eviction(),
            _ => unreachable!(),
        }
    }
    script.set_entry_count(7);
    let scripted = CacheCounts {
        hits: 6,
        misses: 2,
        sets: Some(2),
        deletes: Some(1),
        errors: Some(1),
        evictions: Some(1),
        entries: Some(7),
    };
    assert_eq!(script.counts(), scripted);

    // A real moka cache of capacity 2 that receives 6 keys: size-based evictions.
    let users: MeteredCache<u32, String> =
        MeteredCache::build(&svc.caches, "users", moka::sync::Cache::builder().max_capacity(2));
    for id in 0..6 {
        users.insert(id, format!("user-{id}"));
        users.inner().run_pending_tasks();
    }
    let hits_before: u32 = (0..6).filter(|id| users.get(id).is_some()).count() as u32;
    assert_eq!(users.get_with(100, || "computed".into()), "computed");
    assert_eq!(users.get_with(100, || "again".into()), "computed");
    users.invalidate(&100);
    users.inner().run_pending_tasks();
    let entries = users.inner().entry_count();
    let own = users.meter().counts();
    assert_eq!((own.hits, own.misses), (u64::from(hits_before) + 1, 6 - u64::from(hits_before) + 1));
    assert_eq!((own.sets, own.deletes), (Some(7), Some(1)));
    assert!(own.evictions.unwrap() >= 4, "capacity 2, 7 keys: {own:?}");

    let sessions: MeteredFutureCache<String, u64> =
        MeteredFutureCache::build(&svc.caches, "sessions", moka::future::Cache::builder().max_capacity(100));
    sessions.insert("a".into(), 1).await;
    sessions.insert("b".into(), 2).await;
    assert_eq!(sessions.get("a").await, Some(1));
    assert_eq!(sessions.get("zzz").await, None);
    assert_eq!(sessions.remove("b").await, Some(2));
    sessions.inner().run_pending_tasks().await;

    let metrics = svc.export().await;
    assert_exported(&metrics, "scripted", scripted);
    assert_exported(&metrics, "users", CacheCounts { entries: Some(entries), ..own });
    let own_sessions = CacheCounts { entries: Some(sessions.inner().entry_count()), ..sessions.meter().counts() };
    assert_eq!((own_sessions.hits, own_sessions.misses, own_sessions.entries), (1, 1, Some(1)));
    assert_exported(&metrics, "sessions", own_sessions);
    let requests = metrics.iter().rev().find(|m| m.name() == n::REQUESTS).unwrap();
    assert_eq!((requests.unit(), requests.is_monotonic()), ("{request}", Some(true)));
    assert_eq!(metrics.iter().rev().find(|m| m.name() == n::HIT_RATIO).unwrap().unit(), "1");

    let snapshot = svc.caches.snapshot();
    let default = snapshot.default_cache().unwrap();
    assert_eq!((&*default.name, default.total_reads(), default.hit_rate_percent()), ("scripted", 8, Some(75.0)));
    svc.finish().await;
}

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_info_stats() {
    let client = redis::Client::open(redis_url()).expect("a valid REDIS_URL");
    let connect = tokio::time::timeout(Duration::from_secs(5), client.get_multiplexed_async_connection()).await;
    let mut conn = match connect {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            skip_or_fail("Redis", e);
            return;
        }
        Err(_) => {
            skip_or_fail("Redis", "connect timed out");
            return;
        }
    };
    let svc = service("meters-redis").await;
    // A long interval: the task polls once at start; every later value comes from `poll_now`.
    let stats = RedisCacheStats::spawn(client, Duration::from_secs(3600)).unwrap();
    svc.caches.add("redis", stats.clone());
    // A Redis nobody listens on: its source fails and is skipped, the others keep exporting.
    let dead =
        RedisCacheStats::spawn(redis::Client::open("redis://127.0.0.1:1").unwrap(), Duration::from_secs(3600)).unwrap();
    svc.caches.add("redis-down", dead.clone());
    svc.caches.meter("local").hit();
    // The task's first poll must have landed, or it could store its older reading over `after` below.
    let polled = || svc.caches.snapshot().get("redis").is_some_and(|s| s.counts.is_some());
    let guard = tokio::time::Instant::now() + Duration::from_secs(20);
    while !polled() && tokio::time::Instant::now() < guard {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(polled(), "the first INFO poll of the task (a hang guard, not a measurement)");

    let before = stats.poll_now().await.expect("INFO answers");
    let prefix = format!("otelwright-meters-test:{}", std::process::id());
    let cmd = |name: &str| redis::cmd(name);
    for i in 0..3 {
        let () = cmd("SET").arg(format!("{prefix}:{i}")).arg(i).query_async(&mut conn).await.unwrap();
    }
    let hit: Option<String> = cmd("GET").arg(format!("{prefix}:0")).query_async(&mut conn).await.unwrap();
    let miss: Option<String> = cmd("GET").arg(format!("{prefix}:missing")).query_async(&mut conn).await.unwrap();
    assert_eq!((hit.as_deref(), miss), (Some("0"), None));
    let deleted: u64 =
        cmd("DEL").arg(format!("{prefix}:1")).arg(format!("{prefix}:2")).query_async(&mut conn).await.unwrap();
    assert_eq!(deleted, 2);
    let after = stats.poll_now().await.expect("INFO answers");
    assert!(dead.poll_now().await.is_err());

    // Redis counts server-wide, so other clients may add to these; ours are at least there.
    assert!(after.keyspace_hits > before.keyspace_hits, "{before:?} -> {after:?}");
    assert!(after.keyspace_misses > before.keyspace_misses);
    assert!(after.set_calls.unwrap() >= before.set_calls.unwrap() + 3);
    assert!(after.delete_calls.unwrap() > before.delete_calls.unwrap());

    let metrics = svc.export().await;
    assert_exported(&metrics, "redis", after.counts());
    assert_eq!(value(&metrics, n::REQUESTS, "local", Some((attr::CACHE_RESULT, "hit"))), Some(1.0));
    assert!(value(&metrics, n::REQUESTS, "redis-down", Some((attr::CACHE_RESULT, "hit"))).is_none());
    let snapshot = svc.caches.snapshot();
    assert_eq!(snapshot.get("redis").unwrap().counts, Some(after.counts()));
    assert_eq!(snapshot.get("redis-down").unwrap().counts, None);
    let () = cmd("DEL").arg(format!("{prefix}:0")).query_async(&mut conn).await.unwrap_or(());
    svc.finish().await;
}
