//! The health and metrics endpoints from otelwright-health: `/health/live`, `/health/ready` (database, disk and,
//! with Redis, cache checks), `/api/v1/metrics` (the JSON snapshot `otelwright monitor` polls), `/metrics`
//! (Prometheus), and `/health` (the readiness status alone, for docker-compose's probe).
//!
//! The snapshot's request percentiles and the Prometheus exposition come from metric readers on the service's
//! own meter provider ([`HealthReaders`], installed through `otelwright::Config::meter_provider_hook`, see
//! [`super::HealthAgentConfig::telemetry_config`]): they read the same instruments the OTLP export does.

use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use otelwright_health::{Health, HealthReaders};
use otelwright_meters::Meters;

use super::cache::Profiles;

/// Paths without spans or request metrics: the probes, the scrape and the snapshot a monitor polls.
pub(crate) const UNTRACED: [&str; 3] = ["/health", "/metrics", "/api/v1/metrics"];

/// The endpoints over `meters` and `readers`, checking the `main` pool, the disk under `data_dir` and Redis. Each
/// check's latest result is exported on `meter` as `health.check.status`.
pub(crate) fn router(
    meters: &Meters,
    readers: &HealthReaders,
    profiles: &Profiles,
    data_dir: &Path,
    meter: &opentelemetry::metrics::Meter,
) -> Router {
    let mut builder = Health::builder()
        .meters(meters)
        .readers(readers)
        .database_check("main")
        .disk_space_check(data_dir)
        .check_timeout(Duration::from_secs(2));
    if let Some(redis) = profiles.redis_stats() {
        builder = builder.check("cache:redis", move || {
            let redis = redis.clone();
            async move { redis.poll_now().await.map(|_| ()) }
        });
    }
    let health = builder.build();
    health.register_instruments(meter);
    let probe = health.clone();
    health.router().route(
        "/health",
        get(move || async move {
            let ready = probe.ready_report().await.is_ready();
            let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            (status, axum::Json(serde_json::json!({ "status": if ready { "ready" } else { "not_ready" } })))
        }),
    )
}
