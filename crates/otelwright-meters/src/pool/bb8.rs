//! bb8 adapter (feature `bb8`): [`Bb8Pool`] reads `Pool::state()` (connections, idle connections, pending
//! gets) for any connection manager, pings bb8-postgres pools with `SELECT 1`, and takes owned connections for
//! the timed acquire wrapper.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use bb8_postgres::{PostgresConnectionManager, tokio_postgres::NoTls};
//! use otelwright_meters::{PoolMeter, pool::bb8::Bb8Pool};
//! let manager = PostgresConnectionManager::new_from_stringlike("host=127.0.0.1 user=postgres dbname=test", NoTls)?;
//! let pool = bb8::Pool::builder().max_size(8).build(manager).await?;
//! let pools = PoolMeter::new();
//! let main = pools.add("main", Bb8Pool::new(pool));
//! let conn = main.acquire().await?;
//! conn.simple_query("SELECT 1").await?;
//! # Ok(()) }
//! ```

use bb8::{ManageConnection, Pool, PooledConnection, RunError};
use bb8_postgres::PostgresConnectionManager;
use bb8_postgres::tokio_postgres::Socket;
use bb8_postgres::tokio_postgres::tls::{MakeTlsConnect, TlsConnect};

use super::{Acquire, PingError, PingFuture, PoolPing, PoolState, PoolStats};
use crate::source::SourceError;

/// Meters a `bb8::Pool<M>`. Cheap to clone.
#[derive(Debug)]
pub struct Bb8Pool<M: ManageConnection> {
    pool: Pool<M>,
    max: u64,
    min_idle: Option<u64>,
}

impl<M: ManageConnection> Clone for Bb8Pool<M> {
    fn clone(&self) -> Self {
        Bb8Pool { pool: self.pool.clone(), max: self.max, min_idle: self.min_idle }
    }
}

impl<M: ManageConnection> Bb8Pool<M> {
    /// Wraps `pool` (its configuration is read once, here).
    pub fn new(pool: Pool<M>) -> Self {
        let config = pool.config();
        Bb8Pool { max: u64::from(config.max_size), min_idle: config.min_idle.map(u64::from), pool }
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<M> {
        &self.pool
    }
}

impl<M: ManageConnection> PoolStats for Bb8Pool<M> {
    fn state(&self) -> Result<PoolState, SourceError> {
        let s = self.pool.state();
        let mut state = PoolState::new(u64::from(s.connections), u64::from(s.idle_connections), self.max);
        state.idle_min = self.min_idle;
        state.idle_max = Some(self.max);
        state.pending = Some(s.statistics.pending_gets());
        Ok(state)
    }
}

impl<M: ManageConnection> Acquire for Bb8Pool<M> {
    type Connection = PooledConnection<'static, M>;
    type Error = RunError<M::Error>;

    fn acquire(&self) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send {
        let pool = self.pool.clone();
        async move { pool.get_owned().await }
    }

    fn is_timeout(error: &Self::Error) -> bool {
        matches!(error, RunError::TimedOut)
    }
}

impl<Tls> PoolPing for Bb8Pool<PostgresConnectionManager<Tls>>
where
    Tls: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    <Tls as MakeTlsConnect<Socket>>::Stream: Send + Sync,
    <Tls as MakeTlsConnect<Socket>>::TlsConnect: Send,
    <<Tls as MakeTlsConnect<Socket>>::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    fn ping(&self) -> PingFuture<'_> {
        Box::pin(async move {
            let conn = self.pool.get().await.map_err(|e| PingError::Failed(e.to_string()))?;
            conn.simple_query("SELECT 1").await.map_err(|e| PingError::Failed(e.to_string()))?;
            Ok(())
        })
    }
}
