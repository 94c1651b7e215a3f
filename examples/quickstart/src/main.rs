//! The smallest useful service with otelwright, and the README's quickstart: one `init` call, then the
//! [`otelwright::Telemetry`] it returns wires the rest. Per request: a SERVER span, the HTTP metrics,
//! `X-Request-ID`, `X-Response-Time` and JSON log lines that carry the trace id. Beside them: the process and
//! system meters, the SQLite pool and the moka cache as observable instruments, `/health/live`, `/health/ready`
//! (with a database check), the JSON snapshot `/api/v1/metrics` and Prometheus `/metrics`, and a shutdown that
//! flushes everything. Configure it with the standard variables, e.g.
//! `OTEL_SERVICE_NAME=hello OTEL_EXPORTER_OTLP_PROTOCOL=grpc cargo run -p quickstart`, then
//! `curl localhost:3000/hello/ada` and `curl localhost:3000/api/v1/metrics`.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use otelwright::meters::cache::moka::MeteredCache;
use otelwright::meters::pool::sqlx::SqlxPool;

static GREETINGS: LazyLock<Counter<u64>> = LazyLock::new(|| {
    opentelemetry::global::meter("quickstart").u64_counter("quickstart.greetings").with_unit("{greeting}").build()
});

#[derive(Clone)]
struct App {
    db: sqlx::SqlitePool,
    names: MeteredCache<String, String>,
}

/// The greeting comes from the database on a cache miss, then from the cache. (A CLIENT span per query: see the
/// `axum-sqlx` example in `examples/topics`.)
async fn hello(State(app): State<App>, Path(name): Path<String>) -> Result<String, (StatusCode, String)> {
    let greeting = match app.names.get(&name) {
        Some(greeting) => greeting,
        None => {
            let upper: String = sqlx::query_scalar("SELECT upper(?1)")
                .bind(&name)
                .fetch_one(&app.db)
                .await
                .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}")))?;
            let greeting = format!("Hello, {upper}!");
            app.names.insert(name.clone(), greeting.clone());
            greeting
        }
    };
    GREETINGS.add(1, &[KeyValue::new("greeting.language", "en")]);
    tracing::info!(name_len = name.len(), "greeting"); // carries trace_id, span_id and request_id
    Ok(format!("{greeting}\n"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = otelwright::Config::from_env().service_version(env!("CARGO_PKG_VERSION")).metrics_endpoints(true);
    let telemetry = otelwright::init(config)?;
    let meters = telemetry.meters()?; // process and system meters; pools and caches join below
    let db = sqlx::SqlitePool::connect("sqlite::memory:").await?;
    meters.pools.add("main", SqlxPool::new(db.clone()));
    let names = MeteredCache::build(&meters.caches, "names", moka::sync::Cache::builder().max_capacity(1_000));
    let health = telemetry.health(&meters).database_check("main").build();
    let app = Router::new()
        .route("/hello/{name}", get(hello))
        .with_state(App { db, names })
        .merge(health.router())
        .layer(telemetry.server_layer());

    let addr = std::env::var("QUICKSTART_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(%addr, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;

    let report = telemetry.shutdown().await; // flushes traces, logs and metrics within 5 s
    tracing::info!(clean = report.is_clean(), "stopped");
    Ok(())
}
