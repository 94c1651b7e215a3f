//! The endpoints that orchestrators, load-test monitors and scrapers call, as an axum [`Router`] a service
//! merges into its own (a `Router` is also a tower `Service`):
//!
//! | Endpoint | Answer | Token |
//! |---|---|---|
//! | `GET /health/live` | 200 `{"status":"alive"}`; checks nothing | never |
//! | `GET /health/ready` | 200 `{"status":"ready",...}`, 200 `{"status":"degraded",...}` (a non-critical check failed) or 503 `{"status":"not_ready",...}` from the registered checks, with `uptime_seconds`, run concurrently with a timeout each, the result reused for 1 s | only for the per-check details |
//! | `GET /api/v1/metrics` | the JSON snapshot of resources, pools, caches and requests ([`snapshot`](crate::Health::metrics_snapshot)) | yes |
//! | `GET /metrics` | Prometheus text exposition of the same `MeterProvider` (feature `prometheus`) | yes |
//!
//! [`Health::register_instruments`] exports each check's latest result as the `health.check.status` gauge
//! ([`status`]), for alerting on readiness.
//!
//! One source of truth: the snapshot reads the meters crate's resource, pool and cache snapshots (what their
//! instruments export) and the request percentiles come from the `http.server.request.duration` histogram of
//! `otelwright_http::HttpServerLayer` through a second metric reader ([`RequestWindow`]); `/metrics` is a
//! reader on the same provider. Nothing is measured twice.
//!
//! ```
//! use axum::{Router, routing::get};
//! use opentelemetry::metrics::MeterProvider;
//! use opentelemetry_sdk::metrics::SdkMeterProvider;
//! use otelwright_health::{Health, HealthReaders};
//!
//! // The readers must be on the provider before it is built.
//! let readers = HealthReaders::new();
//! let provider = readers.install(SdkMeterProvider::builder()).build();
//! let meters = otelwright_meters::Meters::new();
//! meters.register_instruments(&provider.meter("otelwright-meters"));
//!
//! let health = Health::builder().meters(&meters).readers(&readers).database_check("main").build();
//! let app: Router = Router::new()
//!     .route("/orders", get(|| async { "[]" }))
//!     .layer(otelwright_http::HttpServerLayer::builder().meter_provider(&provider).build())
//!     .merge(health.router());
//! # let _ = app;
//! ```

mod auth;
mod builder;
mod cache;
pub mod check;
pub mod document;
#[cfg(feature = "prometheus")]
mod prometheus;
mod readers;
mod router;
mod snapshot;
pub mod status;
pub mod window;

pub use builder::{DEFAULT_CACHE_TTL, DEFAULT_CHECK_TIMEOUT, HealthBuilder};
pub use check::{
    Check, CheckError, CheckFuture, CheckResult, DEFAULT_MIN_FREE_BYTES, DatabaseCheck, DiskSpaceCheck, ReadyReport,
};
pub use document::MetricsDocument;
pub use readers::HealthReaders;
pub use router::paths;
pub use window::{RequestFigures, RequestStats, RequestWindow};

use std::sync::Arc;

use axum::Router;
use bytes::Bytes;
use http::HeaderMap;

use crate::cache::Cached;
use crate::check::RegisteredCheck;

struct Inner {
    sources: snapshot::Sources,
    #[cfg(feature = "prometheus")]
    prometheus: Option<prometheus::PrometheusSource>,
    checks: Vec<RegisteredCheck>,
    /// `health.check.status` attributes of each check, in `checks` order.
    check_attributes: Vec<[opentelemetry::KeyValue; 2]>,
    token: Option<auth::Token>,
    ready: Cached<ReadyReport>,
    /// When the endpoints were built (at start-up): `uptime_seconds`.
    started: std::time::Instant,
    snapshot: Cached<Bytes>,
    #[cfg(feature = "prometheus")]
    exposition: Cached<Result<Bytes, String>>,
}

/// The health and metrics endpoints of one service. Cheap to clone; build it with [`Health::builder`] and serve
/// [`Health::router`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tower::ServiceExt;
/// let health = otelwright_health::Health::builder().check("always", || async { Ok::<(), String>(()) }).build();
/// let request = http::Request::get("/health/ready").body(axum::body::Body::empty()).unwrap();
/// let response = health.router().oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 200);
/// # }
/// ```
#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let checks: Vec<&str> = self.inner.checks.iter().map(|c| &*c.name).collect();
        f.debug_struct("Health")
            .field("checks", &checks)
            .field("token", &self.inner.token.is_some())
            .field("prometheus", &self.serves_prometheus())
            .finish()
    }
}

impl Health {
    /// A builder with no checks, no sources, 5 s check timeouts, 1 s caches and no token.
    pub fn builder() -> HealthBuilder {
        HealthBuilder::default()
    }

    /// The routes, to merge into the service's router or to serve as a tower service on their own.
    pub fn router(&self) -> Router {
        router::router(self.clone())
    }

    /// Runs the readiness checks (or reuses a result younger than the ready cache time).
    pub async fn ready_report(&self) -> ReadyReport {
        let checks = &self.inner.checks;
        self.inner.ready.get(|| check::run_all(checks)).await
    }

    /// Registers the `health.check.status` gauge on `meter` ([`status`]): per check, 1 passing or 0 failing, as of
    /// the latest readiness run. Call once; the gauge reads nothing once this `Health` and its clones are dropped.
    ///
    /// ```
    /// use opentelemetry::metrics::MeterProvider;
    /// let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
    /// let health = otelwright_health::Health::builder().check("always", || async { Ok::<(), String>(()) }).build();
    /// health.register_instruments(&provider.meter("otelwright-health"));
    /// ```
    pub fn register_instruments(&self, meter: &opentelemetry::metrics::Meter) {
        status::register(meter, &self.inner);
    }

    /// The `/api/v1/metrics` document, read now (not cached).
    pub fn metrics_snapshot(&self) -> MetricsDocument {
        self.inner.sources.snapshot()
    }

    /// Whether `GET /metrics` is served.
    pub fn serves_prometheus(&self) -> bool {
        #[cfg(feature = "prometheus")]
        return self.inner.prometheus.is_some();
        #[cfg(not(feature = "prometheus"))]
        false
    }

    /// Whether `headers` may see protected content: always without a token, else with the right bearer token.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        self.inner.token.as_ref().is_none_or(|t| t.verify(headers))
    }
}
