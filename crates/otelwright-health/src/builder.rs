//! [`HealthBuilder`]: the sources, checks, caches and token of a [`Health`].

use std::sync::Arc;
use std::time::Duration;

use otelwright_meters::{CacheMeters, Meters, PoolMeter, ResourceMeter};

use crate::auth::TokenSetting;
use crate::cache::Cached;
use crate::check::{Check, DatabaseCheck, DiskSpaceCheck, RegisteredCheck};
use crate::snapshot::Sources;
use crate::{Health, HealthReaders, Inner};

/// The default timeout of each readiness check.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// The default time an endpoint's result is reused.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(1);

/// A check as registered: its timeout is resolved at build time.
struct Spec {
    name: Arc<str>,
    timeout: Option<Duration>,
    check: Arc<dyn Check>,
    critical: bool,
}

/// Configures a [`Health`]. Start with [`Health::builder`].
///
/// ```
/// use std::time::Duration;
/// use otelwright_health::{DiskSpaceCheck, Health, HealthReaders};
/// let meters = otelwright_meters::Meters::new();
/// let readers = HealthReaders::new();
/// let health = Health::builder()
///     .meters(&meters)
///     .readers(&readers)
///     .database_check("main")
///     .check("data-disk", DiskSpaceCheck::new("/").min_free_bytes(2 << 30))
///     .check_timeout(Duration::from_secs(2))
///     .ready_cache(Duration::from_millis(500))
///     .token("s3cret")
///     .build();
/// # let _ = health;
/// ```
#[derive(Default)]
pub struct HealthBuilder {
    sources: Sources,
    readers: Option<HealthReaders>,
    checks: Vec<Spec>,
    database_checks: Vec<String>,
    check_timeout: Option<Duration>,
    ready_ttl: Option<Duration>,
    snapshot_ttl: Option<Duration>,
    prometheus_ttl: Option<Duration>,
    token: TokenSetting,
    status_meter: Option<opentelemetry::metrics::Meter>,
}

impl std::fmt::Debug for HealthBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let checks: Vec<&str> = self.checks.iter().map(|c| &*c.name).collect();
        f.debug_struct("HealthBuilder").field("checks", &checks).finish_non_exhaustive()
    }
}

impl HealthBuilder {
    /// Reads resources, pools and caches from `meters` (the value `otelwright_meters::Meters::new()` built).
    pub fn meters(mut self, meters: &Meters) -> Self {
        self.sources.resources = meters.resources.clone();
        self.sources.pools = Some(meters.pools.clone());
        self.sources.caches = Some(meters.caches.clone());
        self
    }

    /// Reads process and system figures from `resources`.
    pub fn resources(mut self, resources: &ResourceMeter) -> Self {
        self.sources.resources = Some(resources.clone());
        self
    }

    /// Reads pools from `pools`.
    pub fn pools(mut self, pools: &PoolMeter) -> Self {
        self.sources.pools = Some(pools.clone());
        self
    }

    /// Reads caches from `caches`.
    pub fn caches(mut self, caches: &CacheMeters) -> Self {
        self.sources.caches = Some(caches.clone());
        self
    }

    /// Reads the request window and (feature `prometheus`) serves `/metrics` from `readers`, which must be
    /// installed on the service's meter provider.
    pub fn readers(mut self, readers: &HealthReaders) -> Self {
        self.sources.window = Some(readers.window().clone());
        self.readers = Some(readers.clone());
        self
    }

    /// Adds check `name` with the default timeout. A check registered twice under one name replaces the first.
    pub fn check(self, name: impl Into<String>, check: impl Check) -> Self {
        self.add(name.into(), None, Arc::new(check), true)
    }

    /// Adds check `name` with its own timeout.
    pub fn check_with_timeout(self, name: impl Into<String>, timeout: Duration, check: impl Check) -> Self {
        self.add(name.into(), Some(timeout), Arc::new(check), true)
    }

    /// Adds check `name` whose failure does not make the service unready: `/health/ready` stays 200 with
    /// `"status":"degraded"` and the check marked `"critical":false`. For what the service can serve without (a
    /// cache, a recommendation backend), so that an orchestrator does not pull it from rotation.
    pub fn non_critical_check(self, name: impl Into<String>, check: impl Check) -> Self {
        self.add(name.into(), None, Arc::new(check), false)
    }

    fn add(mut self, name: String, timeout: Option<Duration>, check: Arc<dyn Check>, critical: bool) -> Self {
        self.checks.retain(|c| *c.name != *name);
        self.checks.push(Spec { name: Arc::from(name), timeout, check, critical });
        self
    }

    /// Adds check `database:{pool}`: `SELECT 1` through pool `pool` of the pools given to
    /// [`meters`](HealthBuilder::meters) or [`pools`](HealthBuilder::pools) ([`DatabaseCheck`]).
    pub fn database_check(mut self, pool: impl Into<String>) -> Self {
        let pool = pool.into();
        self.database_checks.retain(|p| *p != pool);
        self.database_checks.push(pool);
        self
    }

    /// Adds check `disk:{path}`: at least 1 GiB free on the filesystem of `path` ([`DiskSpaceCheck`]).
    pub fn disk_space_check(self, path: impl Into<std::path::PathBuf>) -> Self {
        let check = DiskSpaceCheck::new(path);
        let name = format!("disk:{}", check.path().display());
        self.check(name, check)
    }

    /// The timeout of checks added without one (default 5 s).
    pub fn check_timeout(mut self, timeout: Duration) -> Self {
        self.check_timeout = Some(timeout);
        self
    }

    /// How long a readiness result is reused (default 1 s; `Duration::ZERO` runs the checks on every probe).
    pub fn ready_cache(mut self, ttl: Duration) -> Self {
        self.ready_ttl = Some(ttl);
        self
    }

    /// How long a `/api/v1/metrics` document is reused (default 1 s; `Duration::ZERO`: never).
    pub fn snapshot_cache(mut self, ttl: Duration) -> Self {
        self.snapshot_ttl = Some(ttl);
        self
    }

    /// How long a `/metrics` exposition is reused (default 1 s; `Duration::ZERO`: never).
    pub fn prometheus_cache(mut self, ttl: Duration) -> Self {
        self.prometheus_ttl = Some(ttl);
        self
    }

    /// Sets every endpoint's cache time at once.
    pub fn cache(self, ttl: Duration) -> Self {
        self.ready_cache(ttl).snapshot_cache(ttl).prometheus_cache(ttl)
    }

    /// Requires `Authorization: Bearer <token>` on `/api/v1/metrics` and `/metrics`, and for the per-check
    /// details of `/health/ready` (`otelwright::Telemetry::health` passes `OTELWRIGHT_METRICS_TOKEN`); an empty
    /// token is ignored with a warning.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = TokenSetting::Value(token.into());
        self
    }

    /// No token (the default): the endpoints are open.
    pub fn without_token(mut self) -> Self {
        self.token = TokenSetting::Disabled;
        self
    }

    /// Exports each check's latest result as `health.check.status` on a meter of `provider`, scoped
    /// `otelwright-health` with this crate's version, when the endpoints are built (see
    /// [`Health::register_instruments`]).
    pub fn meter_provider<P: opentelemetry::metrics::MeterProvider + ?Sized>(mut self, provider: &P) -> Self {
        let scope = opentelemetry::InstrumentationScope::builder("otelwright-health")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        self.status_meter = Some(provider.meter_with_scope(scope));
        self
    }

    /// Builds the endpoints.
    pub fn build(self) -> Health {
        let default_timeout = self.check_timeout.unwrap_or(DEFAULT_CHECK_TIMEOUT);
        let mut checks: Vec<RegisteredCheck> = Vec::new();
        let pools = self.sources.pools.clone().unwrap_or_default();
        for pool in self.database_checks {
            let check: Arc<dyn Check> = Arc::new(DatabaseCheck::new(&pools, pool.clone()));
            let name: Arc<str> = Arc::from(format!("database:{pool}"));
            checks.push(RegisteredCheck { name, timeout: default_timeout, check, critical: true });
        }
        for Spec { name, timeout, check, critical } in self.checks {
            checks.retain(|c| c.name != name);
            checks.push(RegisteredCheck { name, timeout: timeout.unwrap_or(default_timeout), check, critical });
        }
        let ttl = |t: Option<Duration>| t.unwrap_or(DEFAULT_CACHE_TTL);
        let inner = Inner {
            sources: self.sources,
            #[cfg(feature = "prometheus")]
            prometheus: self.readers.as_ref().and_then(|r| r.prometheus().cloned()),
            check_attributes: crate::status::attributes(&checks),
            checks,
            token: self.token.resolve(),
            ready: Cached::new(ttl(self.ready_ttl)),
            started: std::time::Instant::now(),
            snapshot: Cached::new(ttl(self.snapshot_ttl)),
            #[cfg(feature = "prometheus")]
            exposition: Cached::new(ttl(self.prometheus_ttl)),
        };
        #[cfg(not(feature = "prometheus"))]
        let _ = (self.readers, self.prometheus_ttl);
        let health = Health { inner: Arc::new(inner) };
        if let Some(meter) = &self.status_meter {
            health.register_instruments(meter);
        }
        health
    }
}
