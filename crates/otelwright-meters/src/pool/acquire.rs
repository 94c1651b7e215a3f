//! The acquire wrapper: [`PoolHandle::acquire`] times the wait for a connection (`wait_time`), counts waiters
//! and timeouts, and hands back an [`InUse`] guard that records how long the connection was held (`use_time`)
//! when it is dropped. Counters are decremented in `Drop`, so a cancelled acquire never leaks a waiter.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::meters::{AcquireCounters, PoolEntry, Pools, ping_entry};
use super::{Acquire, PingError, PoolStats};

/// A registered pool: the adapter plus its meters. Cheap to clone.
pub struct PoolHandle<A> {
    adapter: Arc<A>,
    entry: Arc<PoolEntry>,
    pools: Arc<Pools>,
}

impl<A> Clone for PoolHandle<A> {
    fn clone(&self) -> Self {
        PoolHandle { adapter: self.adapter.clone(), entry: self.entry.clone(), pools: self.pools.clone() }
    }
}

impl<A> std::fmt::Debug for PoolHandle<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolHandle").field("name", &self.entry.name).finish()
    }
}

struct PendingGuard<'a>(&'a AcquireCounters);

impl<'a> PendingGuard<'a> {
    fn new(counters: &'a AcquireCounters) -> Self {
        counters.pending.fetch_add(1, Ordering::Relaxed);
        PendingGuard(counters)
    }
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<A: PoolStats> PoolHandle<A> {
    pub(super) fn new(adapter: Arc<A>, entry: Arc<PoolEntry>, pools: Arc<Pools>) -> Self {
        PoolHandle { adapter, entry, pools }
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.entry.name
    }

    /// The adapter (and through it the pool).
    pub fn adapter(&self) -> &A {
        &self.adapter
    }

    /// Takes a connection from the pool, recording `wait_time`, waiters and timeouts; the returned guard
    /// records `use_time` when dropped.
    pub async fn acquire(&self) -> Result<InUse<A::Connection>, A::Error>
    where
        A: Acquire,
    {
        self.time_acquire(self.adapter.acquire(), A::is_timeout).await
    }

    /// Times any acquire future of this pool: for pools without an [`Acquire`] impl, or a custom acquire call.
    pub async fn time_acquire<T, E>(
        &self,
        acquire: impl Future<Output = Result<T, E>>,
        is_timeout: impl FnOnce(&E) -> bool,
    ) -> Result<InUse<T>, E> {
        let counters = &self.entry.counters;
        let pending = PendingGuard::new(counters);
        let start = Instant::now();
        let result = acquire.await;
        let waited = start.elapsed();
        drop(pending);
        match result {
            Ok(connection) => {
                counters.acquired.fetch_add(1, Ordering::Relaxed);
                if let Some(t) = self.pools.timings.get() {
                    t.wait.record(waited.as_secs_f64(), &self.entry.attrs.base);
                }
                Ok(InUse {
                    connection: Some(connection),
                    since: Instant::now(),
                    entry: self.entry.clone(),
                    pools: self.pools.clone(),
                })
            }
            Err(error) => {
                if is_timeout(&error) {
                    counters.timeouts.fetch_add(1, Ordering::Relaxed);
                }
                Err(error)
            }
        }
    }

    /// Pings this pool with `timeout` (see [`super::PoolMeter::ping`]).
    pub async fn ping(&self, timeout: Duration) -> Result<(), PingError> {
        ping_entry(&self.entry, timeout).await
    }
}

/// A connection taken through [`PoolHandle::acquire`]: derefs to the connection and records
/// `db.client.connection.use_time` when dropped (or when [`InUse::into_inner`] takes the connection out).
pub struct InUse<T> {
    connection: Option<T>,
    since: Instant,
    entry: Arc<PoolEntry>,
    pools: Arc<Pools>,
}

impl<T> std::fmt::Debug for InUse<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InUse").field("pool", &self.entry.name).field("since", &self.since).finish()
    }
}

impl<T> InUse<T> {
    /// Takes the connection out; its use time ends now.
    pub fn into_inner(mut self) -> T {
        self.record();
        self.connection.take().expect("InUse holds its connection until it is taken")
    }

    /// How long the connection has been held.
    pub fn held_for(&self) -> Duration {
        self.since.elapsed()
    }

    fn record(&self) {
        if let Some(t) = self.pools.timings.get() {
            t.use_time.record(self.since.elapsed().as_secs_f64(), &self.entry.attrs.base);
        }
    }
}

impl<T> Deref for InUse<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.connection.as_ref().expect("InUse holds its connection until it is taken")
    }
}

impl<T> DerefMut for InUse<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.connection.as_mut().expect("InUse holds its connection until it is taken")
    }
}

impl<T> Drop for InUse<T> {
    fn drop(&mut self) {
        if self.connection.is_some() {
            self.record();
        }
    }
}
