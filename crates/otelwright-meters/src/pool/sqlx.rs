//! sqlx adapter (feature `sqlx`): [`SqlxPool`] reads any `sqlx::Pool<DB>` (PostgreSQL, SQLite, MySQL) from
//! its in-memory counters, pings with `SELECT 1`, and takes connections for the timed acquire wrapper.
//!
//! sqlx does not count waiters, so `pending_requests` comes from the acquires in flight through
//! [`super::PoolHandle::acquire`]. `idle.min` is sqlx's `min_connections`; `idle.max` is `max_connections`
//! (every open connection may sit idle).
//!
//! ```no_run
//! # async fn run() -> Result<(), sqlx::Error> {
//! use otelwright_meters::{PoolMeter, pool::sqlx::SqlxPool};
//! let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(4).connect("sqlite::memory:").await?;
//! let pools = PoolMeter::new();
//! let main = pools.add("main", SqlxPool::new(pool));
//! let mut conn = main.acquire().await?; // records wait_time; use_time when `conn` drops
//! # Ok(()) }
//! ```

use sqlx::pool::PoolConnection;
use sqlx::{Database, Executor, Pool};

use super::{Acquire, PingError, PingFuture, PoolPing, PoolState, PoolStats};
use crate::source::SourceError;

/// Meters a `sqlx::Pool<DB>`. Cheap to clone (the pool is an `Arc`).
#[derive(Debug, Clone)]
pub struct SqlxPool<DB: Database> {
    pool: Pool<DB>,
}

impl<DB: Database> SqlxPool<DB> {
    /// Wraps `pool` (a clone shares the same connections).
    pub fn new(pool: Pool<DB>) -> Self {
        SqlxPool { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }
}

impl<DB: Database> PoolStats for SqlxPool<DB> {
    fn state(&self) -> Result<PoolState, SourceError> {
        let options = self.pool.options();
        let max = u64::from(options.get_max_connections());
        let mut state = PoolState::new(u64::from(self.pool.size()), self.pool.num_idle() as u64, max);
        state.idle_min = Some(u64::from(options.get_min_connections()));
        state.idle_max = Some(max);
        Ok(state)
    }
}

impl<DB: Database> Acquire for SqlxPool<DB> {
    type Connection = PoolConnection<DB>;
    type Error = sqlx::Error;

    fn acquire(&self) -> impl Future<Output = Result<PoolConnection<DB>, sqlx::Error>> + Send {
        self.pool.acquire()
    }

    fn is_timeout(error: &sqlx::Error) -> bool {
        matches!(error, sqlx::Error::PoolTimedOut)
    }
}

impl<DB: Database> PoolPing for SqlxPool<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    fn ping(&self) -> PingFuture<'_> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await.map_err(|e| PingError::Failed(e.to_string()))?;
            sqlx::raw_sql("SELECT 1").execute(&mut *conn).await.map_err(|e| PingError::Failed(e.to_string()))?;
            Ok(())
        })
    }
}
