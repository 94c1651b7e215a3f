//! deadpool-postgres adapter (feature `deadpool`): [`DeadpoolPool`] reads `Pool::status()` (size, available,
//! waiting, max size), pings with `SELECT 1`, and takes connections for the timed acquire wrapper.
//!
//! deadpool has no minimum size, so `idle.min` is not reported; `idle.max` is the maximum size.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use otelwright_meters::{PoolMeter, pool::deadpool::DeadpoolPool};
//! let mut cfg = deadpool_postgres::Config::new();
//! cfg.url = Some("postgres://postgres@127.0.0.1/test".into());
//! let pool = cfg.create_pool(Some(deadpool_postgres::Runtime::Tokio1), deadpool_postgres::tokio_postgres::NoTls)?;
//! let pools = PoolMeter::new();
//! let main = pools.add("main", DeadpoolPool::new(pool));
//! let client = main.acquire().await?;
//! client.simple_query("SELECT 1").await?;
//! # Ok(()) }
//! ```

use deadpool_postgres::{Object, Pool, PoolError};

use super::{Acquire, PingError, PingFuture, PoolPing, PoolState, PoolStats};
use crate::source::SourceError;

/// Meters a `deadpool_postgres::Pool`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DeadpoolPool {
    pool: Pool,
}

impl DeadpoolPool {
    /// Wraps `pool`.
    pub fn new(pool: Pool) -> Self {
        DeadpoolPool { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

impl PoolStats for DeadpoolPool {
    fn state(&self) -> Result<PoolState, SourceError> {
        let status = self.pool.status();
        let max = status.max_size as u64;
        let mut state = PoolState::new(status.size as u64, status.available as u64, max);
        state.idle_max = Some(max);
        state.pending = Some(status.waiting as u64);
        Ok(state)
    }
}

impl Acquire for DeadpoolPool {
    type Connection = Object;
    type Error = PoolError;

    fn acquire(&self) -> impl Future<Output = Result<Object, PoolError>> + Send {
        self.pool.get()
    }

    fn is_timeout(error: &PoolError) -> bool {
        matches!(error, PoolError::Timeout(_))
    }
}

impl PoolPing for DeadpoolPool {
    fn ping(&self) -> PingFuture<'_> {
        Box::pin(async move {
            let client = self.pool.get().await.map_err(|e| PingError::Failed(e.to_string()))?;
            client.simple_query("SELECT 1").await.map_err(|e| PingError::Failed(e.to_string()))?;
            Ok(())
        })
    }
}
