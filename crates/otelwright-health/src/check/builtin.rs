//! The built-in checks: [`DatabaseCheck`] (`SELECT 1` through a pool registered in the meters crate's
//! [`PoolMeter`]) and [`DiskSpaceCheck`] (free space on a path's filesystem above a threshold).

use std::path::{Path, PathBuf};
use std::time::Duration;

use otelwright_meters::PoolMeter;

use super::{Check, CheckError, CheckFuture};

/// The default threshold of [`DiskSpaceCheck`]: 1 GiB.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 1 << 30;

/// Pings pool `name` of a [`PoolMeter`] with `SELECT 1` on a pooled connection (the adapter's
/// [`otelwright_meters::PoolPing`]). Fails when the pool cannot hand out a working connection, when the pool is
/// not registered or was registered without a ping. The check's timeout bounds the ping.
///
/// ```
/// use otelwright_health::{DatabaseCheck, Health};
/// let pools = otelwright_meters::PoolMeter::new();
/// let health = Health::builder().check("database", DatabaseCheck::new(&pools, "main")).build();
/// # let _ = health;
/// ```
#[derive(Debug, Clone)]
pub struct DatabaseCheck {
    pools: PoolMeter,
    pool: String,
}

impl DatabaseCheck {
    /// Checks pool `pool` of `pools` (looked up at every run, so a pool replaced under the same name is used).
    pub fn new(pools: &PoolMeter, pool: impl Into<String>) -> Self {
        DatabaseCheck { pools: pools.clone(), pool: pool.into() }
    }
}

impl Check for DatabaseCheck {
    fn run(&self) -> CheckFuture<'_> {
        // The runner's timeout is the one that counts; this one only keeps the ping's own timer out of the way.
        Box::pin(async move { Ok(self.pools.ping(&self.pool, Duration::from_secs(86_400)).await?) })
    }
}

/// Passes while the filesystem holding `path` has at least `min_free_bytes` available to unprivileged users
/// (`statvfs` `f_bavail × f_frsize`, the figure `df` shows as "Avail"). The default threshold is 1 GiB.
/// Unix only; elsewhere the check fails with "not supported".
///
/// ```
/// use otelwright_health::DiskSpaceCheck;
/// let check = DiskSpaceCheck::new("/var/lib/app").min_free_bytes(5 << 30);
/// assert_eq!(check.threshold(), 5 << 30);
/// ```
#[derive(Debug, Clone)]
pub struct DiskSpaceCheck {
    path: PathBuf,
    min_free_bytes: u64,
}

impl DiskSpaceCheck {
    /// Checks the filesystem of `path` against the default 1 GiB threshold.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DiskSpaceCheck { path: path.into(), min_free_bytes: DEFAULT_MIN_FREE_BYTES }
    }

    /// Sets the threshold.
    pub fn min_free_bytes(mut self, bytes: u64) -> Self {
        self.min_free_bytes = bytes;
        self
    }

    /// The path whose filesystem is checked.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The threshold in bytes.
    pub fn threshold(&self) -> u64 {
        self.min_free_bytes
    }

    /// The bytes available to unprivileged users on the filesystem of `path` (a blocking system call).
    pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
        #[cfg(unix)]
        {
            let stat = rustix::fs::statvfs(path)?;
            Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "free disk space is not supported here"))
        }
    }
}

impl Check for DiskSpaceCheck {
    fn run(&self) -> CheckFuture<'_> {
        let path = self.path.clone();
        let min = self.min_free_bytes;
        Box::pin(async move {
            let free = tokio::task::spawn_blocking(move || DiskSpaceCheck::free_bytes(&path))
                .await
                .map_err(|e| CheckError::new(format!("free space lookup failed: {e}")))?
                .map_err(|e| CheckError::new(format!("{}: {e}", self.path.display())))?;
            if free >= min {
                return Ok(());
            }
            Err(CheckError::new(format!(
                "{} has {} free, below the {} threshold",
                self.path.display(),
                human(free),
                human(min)
            )))
        })
    }
}

/// `1536` → `1.5 KiB`.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_sizes() {
        assert_eq!(super::human(512), "512 B");
        assert_eq!(super::human(1536), "1.5 KiB");
        assert_eq!(super::human(1 << 30), "1.0 GiB");
    }
}
