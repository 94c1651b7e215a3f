//! health-agent and recommender on PostgreSQL and Redis: the same checks as `examples_embedded.rs`, plus the
//! `server.address`/`server.port` of the database spans, the Redis client spans and the Redis `INFO` cache.
//!
//! PostgreSQL comes from `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`) and Redis from
//! `REDIS_URL` (default `redis://127.0.0.1:6379`). With `CI` set an unreachable service fails the test;
//! elsewhere the test says it was skipped.

mod examples_support;

use std::time::Duration;

use examples_support::{Expect, one_chat_one_trace, start};
use otelwright_test_support::skip_or_fail;

async fn postgres() -> Option<String> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    match tokio::time::timeout(Duration::from_secs(5), sqlx::PgPool::connect(&url)).await {
        Ok(Ok(pool)) => {
            pool.close().await;
            Some(url)
        }
        Ok(Err(e)) => {
            skip_or_fail("PostgreSQL", e);
            None
        }
        Err(_) => {
            skip_or_fail("PostgreSQL", "connect timed out");
            None
        }
    }
}

async fn redis() -> Option<String> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let ping = async {
        let client = redis::Client::open(url.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(Duration::from_secs(5), ping).await {
        Ok(Ok(_)) => Some(url),
        Ok(Err(e)) => {
            skip_or_fail("Redis", e);
            None
        }
        Err(_) => {
            skip_or_fail("Redis", "connect timed out");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_across_both_services_on_postgres_and_redis() {
    let (Some(database), Some(redis)) = (postgres().await, redis().await) else { return };
    // postgres://user@host:port/db -> (host, port), as health-agent reads it.
    let authority = database.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap();
    let host_port = authority.rsplit('@').next().unwrap();
    let server = match host_port.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse().unwrap()),
        None => (host_port.to_owned(), 5432),
    };
    let stack = start("examples-postgres", Some(database), Some(redis)).await;
    one_chat_one_trace(&stack, &Expect { db_system: "postgresql", db_server: Some(server), redis: true }).await;
    stack.stop().await;
}
