//! The database check against real pools: a PostgreSQL pool whose connections are terminated mid-test
//! (`pg_terminate_backend`, with new connections refused while the database is "down") and a closed SQLite
//! pool each turn `/health/ready` into 503 naming the database check; ready recovers when the database does.
//!
//! PostgreSQL comes from `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`, then user `root`);
//! the test creates and drops its own database, so the user needs CREATEDB. With `CI` set an unreachable
//! database fails the test; elsewhere it prints `SKIPPED:`.

use crate::common;

use std::time::Duration;

use common::{postgres_url, serve};
use otelwright_health::Health;
use otelwright_meters::PoolMeter;
use otelwright_meters::pool::sqlx::SqlxPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

fn health(pools: &PoolMeter, pool: &str) -> Health {
    Health::builder()
        .pools(pools)
        .database_check(pool)
        .check_timeout(Duration::from_secs(3))
        .ready_cache(Duration::ZERO)
        .without_token()
        .build()
}

/// Runs a statement built at run time (the database name is this process's).
async fn ddl(admin: &sqlx::PgPool, sql: String) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(admin).await.unwrap();
}

#[tokio::test]
async fn terminated_postgres_connections_turn_ready_into_503_until_the_database_is_back() {
    let Some(url) = postgres_url().await else { return };
    let admin = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    let db = format!("otelwright_health_{}", std::process::id());
    ddl(&admin, format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await;
    ddl(&admin, format!("CREATE DATABASE {db}")).await;

    let options: PgConnectOptions = url.parse::<PgConnectOptions>().unwrap().database(&db);
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .min_connections(2)
        .acquire_timeout(Duration::from_secs(1))
        .connect_with(options)
        .await
        .unwrap();
    let pools = PoolMeter::new();
    pools.add("main", SqlxPool::new(pool.clone()));
    let server = serve(health(&pools, "main").router()).await;

    let ready = server.get("/health/ready").await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.json()["checks"]["database:main"]["status"], "ok");

    // The database goes away: new connections are refused and every pooled one is terminated.
    ddl(&admin, format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false")).await;
    let terminated: Vec<(bool,)> =
        sqlx::query_as("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(&db)
            .fetch_all(&admin)
            .await
            .unwrap();
    assert!(!terminated.is_empty() && terminated.iter().all(|(t,)| *t), "pooled connections were terminated");

    let down = server.get("/health/ready").await;
    assert_eq!(down.status, 503, "{}", down.body);
    let body = down.json();
    eprintln!("database down: {body}");
    assert_eq!(body["status"], "not_ready");
    let check = &body["checks"]["database:main"];
    assert_eq!(check["status"], "error", "{body}");
    assert!(!check["error"].as_str().unwrap().is_empty());
    assert!(check["duration_ms"].as_f64().is_some());
    assert_eq!(server.get("/health/live").await.status, 200, "liveness does not depend on the database");

    // The database comes back: ready recovers through the same pool.
    ddl(&admin, format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true")).await;
    let up = server.get("/health/ready").await;
    assert_eq!(up.status, 200, "{}", up.body);

    pool.close().await;
    ddl(&admin, format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await;
}

#[tokio::test]
async fn a_closed_sqlite_pool_turns_ready_into_503_until_a_pool_is_back() {
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(2).connect("sqlite::memory:").await.unwrap();
    let pools = PoolMeter::new();
    pools.add("cache-db", SqlxPool::new(pool.clone()));
    let server = serve(health(&pools, "cache-db").router()).await;
    assert_eq!(server.get("/health/ready").await.status, 200);

    pool.close().await;
    let down = server.get("/health/ready").await;
    assert_eq!(down.status, 503);
    let error = down.json()["checks"]["database:cache-db"]["error"].as_str().unwrap().to_owned();
    assert!(error.contains("closed"), "{error}");

    // A new pool registered under the same name: the check reads it at its next run.
    let fresh = sqlx::sqlite::SqlitePoolOptions::new().max_connections(2).connect("sqlite::memory:").await.unwrap();
    pools.add("cache-db", SqlxPool::new(fresh));
    assert_eq!(server.get("/health/ready").await.status, 200);
}

#[tokio::test]
async fn an_unknown_pool_fails_its_check() {
    let server = serve(health(&PoolMeter::new(), "nope").router()).await;
    let down = server.get("/health/ready").await;
    assert_eq!(down.status, 503);
    assert_eq!(down.json()["checks"]["database:nope"]["error"], r#"no pool named "nope""#);
}
