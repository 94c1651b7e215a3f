//! Pool meters through a real SDK pipeline with in-memory pools: state, the acquire wrapper (wait, use,
//! pending, timeouts, cancellation) and pings.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::*;
use crate::names::{attr, pool as n};
use crate::testing::{Collector, Point};

/// A toy pool: `max` connections, a counter of those in use; acquire waits `delay` then fails when full.
struct Toy {
    max: u64,
    used: AtomicU64,
    delay: Duration,
    state_override: Mutex<Option<Result<PoolState, SourceError>>>,
}

impl Toy {
    fn new(max: u64, delay: Duration) -> Self {
        Toy { max, used: AtomicU64::new(0), delay, state_override: Mutex::new(None) }
    }
}

impl PoolStats for Toy {
    fn state(&self) -> Result<PoolState, SourceError> {
        if let Some(r) = self.state_override.lock().unwrap().clone() {
            return r;
        }
        let mut s = PoolState::new(self.max, self.max - self.used.load(Ordering::SeqCst), self.max);
        s.idle_min = Some(1);
        Ok(s)
    }
}

impl Acquire for Toy {
    type Connection = u64;
    type Error = &'static str;
    async fn acquire(&self) -> Result<u64, &'static str> {
        tokio::time::sleep(self.delay).await;
        if self.used.load(Ordering::SeqCst) >= self.max {
            return Err("timeout");
        }
        Ok(self.used.fetch_add(1, Ordering::SeqCst))
    }
    fn is_timeout(e: &&'static str) -> bool {
        *e == "timeout"
    }
}

impl PoolPing for Toy {
    fn ping(&self) -> PingFuture<'_> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            Ok(())
        })
    }
}

fn find<'a>(points: &'a [Point], name: &str, pool: &str, state: Option<&str>) -> Option<&'a Point> {
    points.iter().find(|p| {
        p.name == name
            && p.attr(attr::POOL_NAME) == Some(pool)
            && state.is_none_or(|s| p.attr(attr::POOL_STATE) == Some(s))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_state_and_acquire_timings() {
    let collector = Collector::new();
    let pools = PoolMeter::new();
    pools.register_instruments(&collector.meter());
    let main = pools.add("main", Toy::new(2, Duration::from_millis(5)));
    let other = pools.add_without_ping("other", Toy::new(8, Duration::ZERO));

    let c1 = main.acquire().await.unwrap();
    let c2 = main.acquire().await.unwrap();
    main.adapter().used.store(2, Ordering::SeqCst);
    assert_eq!(main.acquire().await.unwrap_err(), "timeout");
    drop(c1);
    let points = collector.collect();
    let v = |name, pool, state| find(&points, name, pool, state).map(|p| p.value);
    assert_eq!(v(n::COUNT, "main", Some("used")), Some(2.0));
    assert_eq!(v(n::COUNT, "main", Some("idle")), Some(0.0));
    assert_eq!(v(n::COUNT, "other", Some("idle")), Some(8.0));
    assert_eq!(v(n::MAX, "main", None), Some(2.0));
    assert_eq!(v(n::IDLE_MIN, "main", None), Some(1.0));
    assert_eq!(v(n::IDLE_MAX, "main", None), None, "not reported when the pool has no such setting");
    assert_eq!(v(n::PENDING_REQUESTS, "main", None), Some(0.0));
    assert_eq!(v(n::TIMEOUTS, "main", None), Some(1.0));
    assert_eq!(v(n::TIMEOUTS, "other", None), Some(0.0));
    let wait = find(&points, n::WAIT_TIME, "main", None).unwrap();
    assert_eq!((wait.count, wait.unit.as_str()), (2, "s"), "only successful acquires are timed");
    assert!(wait.value >= 0.010, "two waits of at least 5 ms: {}", wait.value);
    assert_eq!(find(&points, n::USE_TIME, "main", None).unwrap().count, 1, "c1 was returned");
    assert_eq!(find(&points, n::COUNT, "main", Some("used")).unwrap().unit, "{connection}");
    assert_eq!(find(&points, n::PENDING_REQUESTS, "main", None).unwrap().unit, "{request}");
    drop(c2);

    let snapshot = pools.snapshot();
    let main_snapshot = snapshot.default_pool().unwrap();
    assert_eq!(&*main_snapshot.name, "main");
    assert_eq!((main_snapshot.acquired, main_snapshot.timeouts, main_snapshot.can_ping), (2, 1, true));
    assert_eq!(main_snapshot.utilization_percent(), Some(100.0));
    assert!(!snapshot.get("other").unwrap().can_ping);
    drop(other);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_requests_follow_waiters_even_when_cancelled() {
    let pools = PoolMeter::new();
    let slow = pools.add("slow", Toy::new(1, Duration::from_secs(30)));
    let waiter = {
        let slow = slow.clone();
        tokio::spawn(async move { slow.acquire().await.map(|c| *c) })
    };
    let pending = || pools.get("slow").unwrap().state.unwrap().pending;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pending() != Some(1) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pending(), Some(1));
    waiter.abort();
    let _ = waiter.await;
    assert_eq!(pending(), Some(0), "a cancelled acquire is no longer pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_and_failing_sources() {
    let collector = Collector::new();
    let pools = PoolMeter::new();
    pools.register_instruments(&collector.meter());
    let fast = pools.add("fast", Toy::new(1, Duration::ZERO));
    pools.add("slow", Toy::new(1, Duration::from_secs(5)));
    pools.add_without_ping("silent", Toy::new(1, Duration::ZERO));
    assert_eq!(pools.ping("fast", Duration::from_secs(1)).await, Ok(()));
    assert_eq!(fast.ping(Duration::from_secs(1)).await, Ok(()));
    let t = Duration::from_millis(20);
    assert_eq!(pools.ping("slow", t).await, Err(PingError::Timeout(t)));
    assert_eq!(pools.ping("silent", t).await, Err(PingError::Unsupported("silent".into())));
    assert_eq!(pools.ping("nope", t).await, Err(PingError::UnknownPool("nope".into())));
    assert_eq!(pools.ping_all(t).await.len(), 3);

    *fast.adapter().state_override.lock().unwrap() = Some(Err(SourceError::failed("pool closed")));
    let points = collector.collect();
    assert!(find(&points, n::COUNT, "fast", None).is_none(), "a failing pool is skipped");
    assert!(find(&points, n::COUNT, "slow", Some("idle")).is_some(), "the others still export");
    assert_eq!(pools.get("fast").unwrap().state, None);
    *fast.adapter().state_override.lock().unwrap() = None;
    assert!(find(&collector.collect(), n::COUNT, "fast", Some("idle")).is_some(), "and it comes back");
}
