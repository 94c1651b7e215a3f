//! A small service with real sources: two sqlx SQLite pools (one with connections held), two caches, the
//! resource sampler in manual mode, and an axum app under `HttpServerLayer` recording into a provider that
//! carries the health readers. The metric provider is built here, as `otelwright::init` would with its hook.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use opentelemetry::metrics::MeterProvider;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use otelwright_health::{Health, HealthBuilder, HealthReaders};
use otelwright_meters::pool::sqlx::SqlxPool;
use otelwright_meters::{CacheMeter, Meters, ResourceConfig};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{Sqlite, SqlitePool, SqlitePoolOptions};

pub struct Service {
    pub server: super::Server,
    pub provider: SdkMeterProvider,
    pub meters: Meters,
    pub users: CacheMeter,
    pub main: SqlitePool,
    pub held: Vec<PoolConnection<Sqlite>>,
}

async fn sqlite(max: u32, min: u32) -> SqlitePool {
    SqlitePoolOptions::new()
        .max_connections(max)
        .min_connections(min)
        .connect("sqlite::memory:")
        .await
        .expect("sqlite pool")
}

/// Starts the service; `configure` adds checks and settings to the health builder.
pub async fn service(configure: impl FnOnce(HealthBuilder) -> HealthBuilder) -> Service {
    let readers = HealthReaders::new().request_window(Duration::from_secs(300), Duration::from_secs(3600));
    let resource = Resource::builder().with_service_name("health-test").build();
    let provider = readers.install(SdkMeterProvider::builder().with_resource(resource)).build();

    let meters = Meters::new().with_resources(ResourceConfig::default().manual_refresh()).expect("resources start");
    meters.register_instruments(&provider.meter("otelwright-meters"));
    let main = sqlite(4, 1).await;
    let reports = sqlite(2, 0).await;
    meters.pools.add("main", SqlxPool::new(main.clone()));
    meters.pools.add("reports", SqlxPool::new(reports));
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(main.acquire().await.expect("connection"));
    }
    drop(held.pop()); // back to the pool: 3 open, 2 used, 1 idle
    // sqlx returns a released connection on a task: wait until the pool shows it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while main.num_idle() != 1 {
        assert!(std::time::Instant::now() < deadline, "pool did not settle: {} idle", main.num_idle());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let users = meters.caches.meter("users");
    for _ in 0..7 {
        users.hit();
    }
    users.miss();
    users.miss();
    users.set();
    users.delete();
    meters.caches.meter("sessions").miss();

    let health = configure(Health::builder().meters(&meters).readers(&readers).without_token()).build();
    let layer = otelwright_http::HttpServerLayer::builder().meter_provider(&provider).traces(false).build();
    let app = Router::new()
        .route("/work", get(|| async { "done" }))
        .route("/fail", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "failed") }))
        .merge(health.router())
        .layer(layer);
    let server = super::serve(app).await;
    Service { server, provider, meters, users, main, held }
}
