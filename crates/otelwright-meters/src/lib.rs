//! Observable OpenTelemetry instruments that show how a service's resources, connection pools and caches are
//! doing, and the snapshots that a JSON metrics endpoint renders from the same sources.
//!
//! Three meter sets, each cheap to clone and shareable between the OTel callbacks and HTTP handlers:
//! - [`ResourceMeter`] (feature `resources`, default): `process.*` and `system.*` from sysinfo, sampled once per
//!   refresh interval on a background thread; container-aware (cgroup memory limit and CPU quota).
//! - [`PoolMeter`]: `db.client.connection.*` for any number of pools through the [`PoolStats`] trait, with
//!   adapters for sqlx (`sqlx`), deadpool-postgres (`deadpool`) and bb8 (`bb8`), a timed acquire wrapper
//!   ([`PoolHandle::acquire`]) and readiness pings ([`PoolMeter::ping`]).
//! - [`CacheMeters`]: `cache.*` for caches counted through [`CacheMeter`] or read through [`CacheStats`], with a
//!   moka wrapper (`moka`) and a Redis `INFO` poller (`redis`).
//!
//! [`SessionMeter`] counts and times application sessions (`session.active`, `session.duration`) through a guard
//! that records on drop.
//!
//! Rules every instrument follows: callbacks never do I/O and never block — they read atomics or the latest
//! snapshot a background task produced; a source that fails or panics is logged once and skipped while the
//! other instruments keep exporting; `snapshot()` reads the same sources, so nothing is measured twice.
//!
//! ```
//! use otelwright_meters::{Meters, ResourceConfig};
//! # let meter = opentelemetry::global::meter("doc");
//! let meters = Meters::new().with_resources(ResourceConfig::default().manual_refresh())?;
//! meters.register_instruments(&meter);
//! let orders_cache = meters.caches.meter("orders");
//! orders_cache.miss();
//! let json = serde_json::to_string(&meters.snapshot()).unwrap();
//! assert!(json.contains("\"orders\""));
//! # Ok::<(), otelwright_meters::ResourceError>(())
//! ```

pub mod cache;
#[cfg(feature = "resources")]
mod cell;
pub mod names;
pub mod pool;
mod registry;
#[cfg(feature = "resources")]
pub mod resource;
pub mod session;
mod source;
#[cfg(test)]
mod testing;

pub use cache::{CacheCounts, CacheMeter, CacheMeters, CacheSnapshot, CacheStats, CachesSnapshot};
pub use pool::{
    Acquire, InUse, PingError, PingFuture, PoolHandle, PoolMeter, PoolPing, PoolSnapshot, PoolState, PoolStats,
    PoolsSnapshot,
};
#[cfg(feature = "resources")]
pub use resource::{ResourceConfig, ResourceError, ResourceMeter, ResourceSnapshot};
pub use session::{SessionGuard, SessionMeter};
pub use source::SourceError;

use opentelemetry::InstrumentationScope;
use opentelemetry::metrics::{Meter, MeterProvider};
use serde::Serialize;

/// The three meter sets of a service in one value: what an init function builds and a health endpoint reads.
/// Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Meters {
    /// Process and system resources (absent until [`Meters::with_resources`]).
    #[cfg(feature = "resources")]
    pub resources: Option<ResourceMeter>,
    /// Connection pools.
    pub pools: PoolMeter,
    /// Caches.
    pub caches: CacheMeters,
}

impl Meters {
    /// Empty pool and cache registries, no resource sampler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the resource sampler with `config`.
    #[cfg(feature = "resources")]
    pub fn with_resources(mut self, config: ResourceConfig) -> Result<Self, ResourceError> {
        self.resources = Some(ResourceMeter::start(config)?);
        Ok(self)
    }

    /// Registers every set's instruments on a meter of `provider`, scoped `otelwright-meters` with this crate's
    /// version. Call once per provider. Pools and caches added later are observed too.
    pub fn register<P: MeterProvider + ?Sized>(&self, provider: &P) {
        let scope = InstrumentationScope::builder("otelwright-meters")
            .with_version(env!("CARGO_PKG_VERSION"))
            .with_schema_url("https://opentelemetry.io/schemas/1.37.0")
            .build();
        self.register_instruments(&provider.meter_with_scope(scope));
    }

    /// Registers every set's instruments on `meter` (prefer [`Meters::register`], which names the scope). Call
    /// once per meter.
    pub fn register_instruments(&self, meter: &Meter) {
        #[cfg(feature = "resources")]
        if let Some(r) = &self.resources {
            r.register_instruments(meter);
        }
        self.pools.register_instruments(meter);
        self.caches.register_instruments(meter);
    }

    /// Reads every set now without measuring anything new.
    pub fn snapshot(&self) -> MetersSnapshot {
        MetersSnapshot {
            #[cfg(feature = "resources")]
            resources: self.resources.as_ref().map(|r| r.snapshot()),
            pools: self.pools.snapshot(),
            caches: self.caches.snapshot(),
        }
    }
}

/// What [`Meters::snapshot`] read.
#[derive(Debug, Clone, Serialize)]
pub struct MetersSnapshot {
    /// The latest resource sample.
    #[cfg(feature = "resources")]
    pub resources: Option<std::sync::Arc<ResourceSnapshot>>,
    /// Every pool.
    pub pools: PoolsSnapshot,
    /// Every cache.
    pub caches: CachesSnapshot,
}
