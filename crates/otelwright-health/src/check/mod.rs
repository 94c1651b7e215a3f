//! Readiness checks: the [`Check`] trait (implemented for every async closure returning `Result<(), E>`), the
//! built-in [`DatabaseCheck`] and [`DiskSpaceCheck`], and the runner that executes every registered check
//! concurrently, each on its own task with its own timeout, and turns timeouts and panics into failures.
//!
//! ```
//! use otelwright_health::{CheckError, DiskSpaceCheck, Health};
//! let health = Health::builder()
//!     .check("disk", DiskSpaceCheck::new("/"))
//!     .check("queue", || async {
//!         let depth = 3; // ask your queue
//!         if depth < 1000 { Ok(()) } else { Err(format!("queue depth {depth}")) }
//!     })
//!     .check("upstream", || async { Err::<(), _>(CheckError::new("not configured")) })
//!     .build();
//! # let _ = health;
//! ```

mod builtin;
mod runner;

pub use builtin::{DEFAULT_MIN_FREE_BYTES, DatabaseCheck, DiskSpaceCheck};
pub use runner::{CheckResult, ReadyReport};
pub(crate) use runner::{RegisteredCheck, run_all};

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

/// Why a check failed: a message shown in the `/health/ready` details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError(String);

impl CheckError {
    /// A failure described by `message`.
    pub fn new(message: impl Display) -> Self {
        CheckError(message.to_string())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CheckError {}

impl From<String> for CheckError {
    fn from(message: String) -> Self {
        CheckError(message)
    }
}

impl From<&str> for CheckError {
    fn from(message: &str) -> Self {
        CheckError(message.to_owned())
    }
}

impl From<otelwright_meters::PingError> for CheckError {
    fn from(error: otelwright_meters::PingError) -> Self {
        CheckError(error.to_string())
    }
}

/// The future a [`Check`] returns.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), CheckError>> + Send + 'a>>;

/// One readiness check. It runs on its own tokio task with a timeout, so it may await I/O freely; a check that
/// blocks its thread should move the blocking part to `tokio::task::spawn_blocking`, or the timeout cannot
/// interrupt it.
///
/// Implemented for closures `Fn() -> impl Future<Output = Result<(), E>>` where `E: Display`:
///
/// ```
/// use otelwright_health::Check;
/// fn assert_check(_: impl Check) {}
/// assert_check(|| async { Ok::<(), std::io::Error>(()) });
/// ```
pub trait Check: Send + Sync + 'static {
    /// Runs the check once.
    fn run(&self) -> CheckFuture<'_>;
}

impl<F, Fut, E> Check for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display + 'static,
{
    fn run(&self) -> CheckFuture<'_> {
        let future = self();
        Box::pin(async move { future.await.map_err(CheckError::new) })
    }
}
