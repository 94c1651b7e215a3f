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
    /// Refreshes every 60 s, the SDK's default metric export interval, and reports the filesystem mounted at `/`.
    /// `otelwright::Telemetry::meters` refreshes at the pipeline's export interval (`OTEL_METRIC_EXPORT_INTERVAL`)
    /// instead, so there is one refresh per export.
    fn default() -> Self {
        ResourceConfig { refresh_interval: Some(DEFAULT_INTERVAL), mount_points: vec![PathBuf::from("/")] }
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
