//! Connection-pool meters: the [`PoolStats`] trait every pool adapter implements, [`PoolPing`] for readiness
//! checks, [`Acquire`] for the timed acquire wrapper, the [`PoolMeter`] registry that exports
//! `db.client.connection.*` for every registered pool, and the sqlx, deadpool and bb8 adapters.
//!
//! ```
//! use otelwright_meters::{PoolMeter, PoolState, PoolStats, SourceError};
//! # let meter = opentelemetry::global::meter("doc");
//! struct MyPool;
//! impl PoolStats for MyPool {
//!     fn state(&self) -> Result<PoolState, SourceError> {
//!         Ok(PoolState::new(4, 1, 10))
//!     }
//! }
//! let pools = PoolMeter::new();
//! pools.register_instruments(&meter);
//! pools.add_without_ping("main", MyPool);
//! let snapshot = pools.snapshot();
//! assert_eq!(snapshot.default_pool().unwrap().state.unwrap().used, 3);
//! ```

mod acquire;
#[cfg(feature = "bb8")]
pub mod bb8;
#[cfg(feature = "deadpool")]
pub mod deadpool;
mod instruments;
mod meters;
#[cfg(feature = "sqlx")]
pub mod sqlx;

pub use acquire::{InUse, PoolHandle};
pub use meters::{PoolMeter, PoolSnapshot, PoolsSnapshot};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::source::SourceError;

/// A pool's state at one moment. `used + idle == size`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PoolState {
    /// Open connections (idle and used).
    pub size: u64,
    /// Open connections not in use.
    pub idle: u64,
    /// Open connections in use.
    pub used: u64,
    /// The most connections the pool opens.
    pub max: u64,
    /// The fewest idle connections the pool keeps (its minimum size), if it has such a setting.
    pub idle_min: Option<u64>,
    /// The most idle connections the pool keeps, if it has such a setting.
    pub idle_max: Option<u64>,
    /// Requests waiting for a connection. Adapters fill it when the pool tracks waiters; otherwise the
    /// registry fills it with the acquires in flight through [`PoolHandle::acquire`].
    pub pending: Option<u64>,
}

impl PoolState {
    /// A state from the open connections, the idle ones and the maximum; `used = size - idle`.
    pub fn new(size: u64, idle: u64, max: u64) -> Self {
        let idle = idle.min(size);
        PoolState { size, idle, used: size - idle, max, ..Default::default() }
    }

    /// `used / max`, `None` when the maximum is 0.
    pub fn utilization(&self) -> Option<f64> {
        (self.max > 0).then(|| self.used as f64 / self.max as f64)
    }
}

/// A connection pool the meters can read. `state` is called from metric callbacks and snapshot readers: it must
/// return at once from the pool's in-memory counters (a short internal lock is fine), never do I/O.
pub trait PoolStats: Send + Sync + 'static {
    /// The pool's state now: size, idle, used, max, min idle and pending in one consistent read.
    fn state(&self) -> Result<PoolState, SourceError>;
}

impl<T: PoolStats + ?Sized> PoolStats for Arc<T> {
    fn state(&self) -> Result<PoolState, SourceError> {
        (**self).state()
    }
}

/// Why a ping failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PingError {
    /// No answer within the timeout.
    #[error("ping timed out after {0:?}")]
    Timeout(Duration),
    /// The pool or the database answered with an error.
    #[error("ping failed: {0}")]
    Failed(String),
    /// The pool was registered without a ping.
    #[error("pool {0:?} has no ping")]
    Unsupported(String),
    /// No pool has that name.
    #[error("no pool named {0:?}")]
    UnknownPool(String),
}

/// The future a [`PoolPing`] returns.
pub type PingFuture<'a> = Pin<Box<dyn Future<Output = Result<(), PingError>> + Send + 'a>>;

/// A readiness probe through the pool (`SELECT 1` on a pooled connection). Never called from a metric callback;
/// [`PoolMeter::ping`] runs it with a timeout.
pub trait PoolPing: Send + Sync + 'static {
    /// Takes a connection from the pool and runs a trivial query on it.
    fn ping(&self) -> PingFuture<'_>;
}

/// A pool whose connections [`PoolHandle::acquire`] can take while timing the wait and the use.
pub trait Acquire: Send + Sync + 'static {
    /// The pooled connection (returned to the pool when dropped).
    type Connection: Send;
    /// The pool's error.
    type Error: Send;
    /// Takes a connection, waiting as the pool does.
    fn acquire(&self) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send;
    /// Whether `error` means the wait timed out (counted in `db.client.connection.timeouts`).
    fn is_timeout(error: &Self::Error) -> bool;
}

#[cfg(test)]
mod tests;
