//! axum + sqlx: a CLIENT span per query with the database semantic conventions (`db.system.name`,
//! `db.operation.name`, `db.collection.name`, `db.query.text`), the pool's `db.client.connection.*` meters with the
//! time each request waited for a connection, and a readiness check on the pool.
//!
//! `cargo run -p otelwright-examples --bin axum-sqlx`

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use otelwright::meters::PoolHandle;
use otelwright::meters::pool::sqlx::SqlxPool;
use sqlx::Sqlite;
use tracing::Instrument as _;

type Db = PoolHandle<SqlxPool<Sqlite>>;

const SELECT_USER: &str = "SELECT name FROM users WHERE id = ?1";

/// One query in a CLIENT span named `{operation} {collection}`, as the database conventions name it.
async fn user_name(db: &Db, id: i64) -> Result<Option<String>, sqlx::Error> {
    let span = tracing::info_span!(
        "SELECT users",
        otel.kind = "client",
        db.system.name = "sqlite",
        db.operation.name = "SELECT",
        db.collection.name = "users",
        db.query.text = SELECT_USER,
    );
    async {
        let mut conn = db.acquire().await?; // counts the wait in db.client.connection.wait_time
        sqlx::query_scalar(SELECT_USER).bind(id).fetch_optional(&mut **conn).await
    }
    .instrument(span)
    .await
}

async fn user(State(db): State<Db>, Path(id): Path<i64>) -> Result<String, (StatusCode, String)> {
    match user_name(&db, id).await {
        Ok(Some(name)) => Ok(name),
        Ok(None) => Err((StatusCode::NOT_FOUND, format!("no user {id}"))),
        Err(e) => Err((StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}"))),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = otelwright::init(otelwright::Config::from_env().service_name("axum-sqlx"))?;
    let meters = telemetry.meters()?;
    let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
    sqlx::raw_sql("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'ada');")
        .execute(&pool)
        .await?;
    let db = meters.pools.add("main", SqlxPool::new(pool));
    let health = telemetry.health(&meters).database_check("main").build();
    let app = Router::new()
        .route("/users/{id}", get(user))
        .with_state(db)
        .merge(health.router())
        .layer(telemetry.server_layer());
    let addr = otelwright_examples::serve(app).await?;

    for path in ["/users/1", "/users/2", "/health/ready"] {
        let response = reqwest::get(format!("http://{addr}{path}")).await?;
        println!("GET {path} -> {}", response.status());
    }
    telemetry.shutdown().await;
    Ok(())
}
