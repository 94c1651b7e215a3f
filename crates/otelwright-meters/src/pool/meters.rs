//! [`PoolMeter`]: the registry of a service's connection pools, their acquire counters, the readiness pings,
//! and the [`PoolsSnapshot`] that the metric callbacks and the JSON metrics endpoint both read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter};
use serde::Serialize;

use super::{PingError, PoolHandle, PoolPing, PoolState, PoolStats};
use crate::names::attr;
use crate::registry::{Named, Registry};
use crate::source::SourceGuard;

/// Acquire counters kept by the wrapper, per pool.
#[derive(Debug, Default)]
pub(super) struct AcquireCounters {
    pub(super) pending: AtomicU64,
    pub(super) timeouts: AtomicU64,
    pub(super) acquired: AtomicU64,
}

pub(super) struct PoolAttrs {
    pub(super) base: Arc<[KeyValue]>,
    pub(super) idle: [KeyValue; 2],
    pub(super) used: [KeyValue; 2],
}

pub(super) struct PoolEntry {
    pub(super) name: Arc<str>,
    pub(super) attrs: PoolAttrs,
    pub(super) counters: AcquireCounters,
    stats: Arc<dyn PoolStats>,
    ping: Option<Arc<dyn PoolPing>>,
    guard: SourceGuard,
}

impl Named for PoolEntry {
    fn name(&self) -> &str {
        &self.name
    }
}

impl PoolEntry {
    /// The pool's state with `pending` filled in; `None` (logged once) when the source failed or panicked.
    pub(super) fn read(&self) -> Option<PoolState> {
        let mut state = self.guard.read("pool", &self.name, || self.stats.state())?;
        if state.pending.is_none() {
            state.pending = Some(self.counters.pending.load(Ordering::Relaxed));
        }
        Some(state)
    }

    fn snapshot(&self) -> PoolSnapshot {
        let state = self.read();
        PoolSnapshot {
            name: self.name.clone(),
            utilization: state.and_then(|s| s.utilization()),
            state,
            acquired: self.counters.acquired.load(Ordering::Relaxed),
            timeouts: self.counters.timeouts.load(Ordering::Relaxed),
            can_ping: self.ping.is_some(),
        }
    }
}

/// The wait/use histograms, created by [`PoolMeter::register_instruments`].
#[derive(Debug)]
pub(super) struct Timings {
    pub(super) wait: Histogram<f64>,
    pub(super) use_time: Histogram<f64>,
}

#[derive(Default)]
pub(super) struct Pools {
    pub(super) registry: Registry<PoolEntry>,
    pub(super) timings: OnceLock<Timings>,
}

/// The connection pools of a service: cheap to clone (an `Arc`), shared by the OTel callbacks, HTTP handlers
/// and readiness checks.
#[derive(Clone, Default)]
pub struct PoolMeter {
    pools: Arc<Pools>,
}

impl std::fmt::Debug for PoolMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.pools.registry.entries().iter().map(|e| e.name.to_string()).collect();
        f.debug_struct("PoolMeter").field("pools", &names).finish()
    }
}

impl PoolMeter {
    /// An empty registry. Call [`PoolMeter::register_instruments`] once to export it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the `db.client.connection.*` instruments on `meter`: the observable ones, and the wait/use
    /// histograms that [`PoolHandle::acquire`] records into (only the first call's histograms are used).
    pub fn register_instruments(&self, meter: &Meter) {
        super::instruments::register(meter, self.pools.clone());
    }

    /// Registers `adapter` as pool `name` (replacing any pool of that name) and returns its handle.
    pub fn add<A: PoolStats + PoolPing>(&self, name: &str, adapter: A) -> PoolHandle<A> {
        let adapter = Arc::new(adapter);
        let ping: Arc<dyn PoolPing> = adapter.clone();
        self.insert(name, adapter, Some(ping))
    }

    /// Registers a pool that has no ping (readiness reports [`PingError::Unsupported`]).
    pub fn add_without_ping<S: PoolStats>(&self, name: &str, stats: S) -> PoolHandle<S> {
        self.insert(name, Arc::new(stats), None)
    }

    fn insert<A: PoolStats>(&self, name: &str, adapter: Arc<A>, ping: Option<Arc<dyn PoolPing>>) -> PoolHandle<A> {
        let name: Arc<str> = Arc::from(name);
        let key = KeyValue::new(attr::POOL_NAME, name.to_string());
        let attrs = PoolAttrs {
            base: Arc::from([key.clone()]),
            idle: [key.clone(), KeyValue::new(attr::POOL_STATE, "idle")],
            used: [key, KeyValue::new(attr::POOL_STATE, "used")],
        };
        let stats: Arc<dyn PoolStats> = adapter.clone();
        let entry = Arc::new(PoolEntry {
            name,
            attrs,
            counters: AcquireCounters::default(),
            stats,
            ping,
            guard: SourceGuard::default(),
        });
        self.pools.registry.add(entry.clone());
        PoolHandle::new(adapter, entry, self.pools.clone())
    }

    /// Stops exporting pool `name`; returns whether it was registered.
    pub fn remove(&self, name: &str) -> bool {
        self.pools.registry.remove(name)
    }

    /// Makes `name` the default pool of [`PoolsSnapshot::default_pool`] (else the first registered).
    pub fn set_default(&self, name: &str) {
        self.pools.registry.set_default(name);
    }

    /// Reads every pool now (from the pools' in-memory state).
    pub fn snapshot(&self) -> PoolsSnapshot {
        let pools = self.pools.registry.entries().iter().map(|e| e.snapshot()).collect();
        PoolsSnapshot { default: self.pools.registry.default_name(), pools }
    }

    /// One pool, read now.
    pub fn get(&self, name: &str) -> Option<PoolSnapshot> {
        self.pools.registry.get(name).map(|e| e.snapshot())
    }

    /// The default pool's name.
    pub fn default_name(&self) -> Option<Arc<str>> {
        self.pools.registry.default_name()
    }

    /// Pings pool `name` (`SELECT 1` through the pool), waiting at most `timeout`. Run it from a readiness check,
    /// never from a metric callback.
    pub async fn ping(&self, name: &str, timeout: Duration) -> Result<(), PingError> {
        let entry = self.pools.registry.get(name).ok_or_else(|| PingError::UnknownPool(name.to_owned()))?;
        ping_entry(&entry, timeout).await
    }

    /// Pings every pool one after another, each with `timeout`.
    pub async fn ping_all(&self, timeout: Duration) -> Vec<(Arc<str>, Result<(), PingError>)> {
        let mut results = Vec::new();
        for entry in self.pools.registry.entries().iter() {
            results.push((entry.name.clone(), ping_entry(entry, timeout).await));
        }
        results
    }
}

pub(super) async fn ping_entry(entry: &PoolEntry, timeout: Duration) -> Result<(), PingError> {
    let ping = entry.ping.as_ref().ok_or_else(|| PingError::Unsupported(entry.name.to_string()))?;
    match tokio::time::timeout(timeout, ping.ping()).await {
        Ok(result) => result,
        Err(_) => Err(PingError::Timeout(timeout)),
    }
}

/// One pool as read by [`PoolMeter::snapshot`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolSnapshot {
    /// The `db.client.connection.pool.name`.
    pub name: Arc<str>,
    /// The pool's state, `None` when its source failed or panicked.
    pub state: Option<PoolState>,
    /// `used / max`.
    pub utilization: Option<f64>,
    /// Connections taken through [`PoolHandle::acquire`].
    pub acquired: u64,
    /// Acquires through [`PoolHandle::acquire`] that timed out.
    pub timeouts: u64,
    /// Whether [`PoolMeter::ping`] can check this pool.
    pub can_ping: bool,
}

impl PoolSnapshot {
    /// `used / max` in percent.
    pub fn utilization_percent(&self) -> Option<f64> {
        self.utilization.map(|u| u * 100.0)
    }
}

/// Every registered pool, read at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolsSnapshot {
    /// The default pool's name.
    pub default: Option<Arc<str>>,
    /// All pools in registration order.
    pub pools: Vec<PoolSnapshot>,
}

impl PoolsSnapshot {
    /// The pool named `name`.
    pub fn get(&self, name: &str) -> Option<&PoolSnapshot> {
        self.pools.iter().find(|p| &*p.name == name)
    }

    /// The default pool.
    pub fn default_pool(&self) -> Option<&PoolSnapshot> {
        self.default.as_deref().and_then(|n| self.get(n))
    }
}
