//! [`ResourceConfig`]: how often the resource sampler refreshes and which mount points it reports.

use std::path::PathBuf;
use std::time::Duration;

/// The SDK's default metric export interval.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
const MIN_INTERVAL: Duration = Duration::from_millis(50);

/// Configuration of [`super::ResourceMeter`].
///
/// ```
/// use std::time::Duration;
/// let config = otelwright_meters::ResourceConfig::default()
///     .refresh_interval(Duration::from_secs(15))
///     .mount_points(["/", "/var/lib/data"]);
/// ```
#[derive(Debug, Clone)]
pub struct ResourceConfig {
    pub(super) refresh_interval: Option<Duration>,
    pub(super) mount_points: Vec<PathBuf>,
}

impl Default for ResourceConfig {
    /// Refreshes at `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds; 60 s when unset or invalid) so there is one
    /// refresh per export, and reports the filesystem mounted at `/`.
    fn default() -> Self {
        ResourceConfig { refresh_interval: Some(interval_from_env()), mount_points: vec![PathBuf::from("/")] }
    }
}

impl ResourceConfig {
    /// Refresh every `interval` (at least 50 ms). Match it to the metric export interval: every resource
    /// callback of a collection reads the same refresh, so a shorter interval only costs CPU. (sysinfo updates
    /// the host CPU usage at most every 200 ms.)
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = Some(interval.max(MIN_INTERVAL));
        self
    }

    /// No background thread: values change only when [`super::ResourceMeter::refresh`] is called.
    pub fn manual_refresh(mut self) -> Self {
        self.refresh_interval = None;
        self
    }

    /// The mount points whose filesystem usage and disk I/O are reported (default `/`). Only these are read.
    pub fn mount_points<P: Into<PathBuf>>(mut self, mount_points: impl IntoIterator<Item = P>) -> Self {
        self.mount_points = mount_points.into_iter().map(Into::into).collect();
        self
    }
}

fn interval_from_env() -> Duration {
    const VAR: &str = "OTEL_METRIC_EXPORT_INTERVAL";
    match std::env::var(VAR) {
        Err(_) => DEFAULT_INTERVAL,
        Ok(value) => match value.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => Duration::from_millis(ms).max(MIN_INTERVAL),
            _ => {
                tracing::warn!(
                    target: "otelwright_meters",
                    variable = VAR,
                    value = %value,
                    "invalid value, using the default resource refresh interval of 60 s"
                );
                DEFAULT_INTERVAL
            }
        },
    }
}
