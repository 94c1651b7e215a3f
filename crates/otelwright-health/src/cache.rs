//! [`Cached`]: one endpoint's short-lived result cache. Within the time to live every request gets the stored
//! value; when it has expired, one request recomputes it while the others wait for that result instead of
//! computing their own (a storm of probes runs the checks once, not once per probe).

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A value kept for `ttl`; `Duration::ZERO` disables caching.
#[derive(Debug)]
pub(crate) struct Cached<T> {
    ttl: Duration,
    latest: Mutex<Option<(Instant, T)>>,
    refresh: tokio::sync::Mutex<()>,
}

impl<T: Clone> Cached<T> {
    pub(crate) fn new(ttl: Duration) -> Self {
        Cached { ttl, latest: Mutex::new(None), refresh: tokio::sync::Mutex::new(()) }
    }

    fn fresh(&self) -> Option<T> {
        let latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        latest.as_ref().filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, v)| v.clone())
    }

    /// The cached value, or `compute()`'s (stored for the next callers). If the caller is dropped while
    /// computing, nothing is stored and the next caller computes.
    pub(crate) async fn get<F, Fut>(&self, compute: F) -> T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        if self.ttl.is_zero() {
            let value = compute().await;
            self.store(value.clone());
            return value;
        }
        if let Some(v) = self.fresh() {
            return v;
        }
        let _single_flight = self.refresh.lock().await;
        if let Some(v) = self.fresh() {
            return v;
        }
        let value = compute().await;
        self.store(value.clone());
        value
    }

    fn store(&self, value: T) {
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), value));
    }

    /// The last computed value and when it was computed, however old (`None` before the first computation).
    /// Also kept with a zero time to live.
    pub(crate) fn latest(&self) -> Option<(Instant, T)> {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_one_computation() {
        let cache = Arc::new(Cached::new(Duration::from_secs(3600)));
        let runs = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (cache, runs, gate) = (cache.clone(), runs.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get(|| async {
                        gate.notified().await;
                        runs.fetch_add(1, Ordering::SeqCst) + 1
                    })
                    .await
            }));
        }
        tokio::task::yield_now().await;
        gate.notify_one();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 1);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn zero_ttl_always_computes() {
        let cache = Cached::new(Duration::ZERO);
        assert_eq!(cache.latest(), None);
        assert_eq!(cache.get(|| async { 1 }).await, 1);
        assert_eq!(cache.get(|| async { 2 }).await, 2);
        // The latest value is still kept (the health.check.status gauge reads it).
        assert_eq!(cache.latest().map(|(_, v)| v), Some(2));
    }
}
