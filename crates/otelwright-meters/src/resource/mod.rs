//! Process and system resource meters (feature `resources`, on by default): [`ResourceMeter`] samples this
//! process and the host (or its container) with sysinfo on a background thread, once per refresh interval, and
//! every resource callback reads that one [`ResourceSnapshot`].
//!
//! Container-aware: when a cgroup memory limit is set, `system.memory.limit` is reported and memory usage and
//! utilization are the cgroup's against the limit; when a CPU quota is set, utilizations are computed against
//! the quota instead of the host's CPUs.
//!
//! ```
//! use std::time::Duration;
//! use otelwright_meters::{ResourceConfig, ResourceMeter};
//! # let meter = opentelemetry::global::meter("doc");
//! let resources = ResourceMeter::start(ResourceConfig::default().refresh_interval(Duration::from_secs(10)))?;
//! resources.register_instruments(&meter);
//! let snapshot = resources.snapshot();
//! assert!(snapshot.process.memory_rss_bytes > 0);
//! # Ok::<(), otelwright_meters::ResourceError>(())
//! ```

#[cfg(target_os = "linux")]
mod cgroup;
mod config;
mod instruments;
#[cfg(target_os = "linux")]
mod procfs;
mod sampler;
mod snapshot;

pub use config::ResourceConfig;
pub use snapshot::{
    DiskIoStats, FilesystemStats, LoadAverage, ProcessCounts, ProcessStats, ResourceSnapshot, SystemStats,
};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry::metrics::Meter;

use crate::cell::SnapshotCell;
use crate::source::SourceGuard;
use sampler::Sampler;

/// Why the resource meter could not start.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// sysinfo does not support this platform.
    #[error("resource sampling is not supported here: {0}")]
    Unsupported(String),
    /// The sampler thread could not be started.
    #[error("could not start the resource sampler thread: {0}")]
    Thread(#[from] std::io::Error),
}

pub(crate) struct Shared {
    cell: SnapshotCell<ResourceSnapshot>,
    sampler: Mutex<Sampler>,
    guard: SourceGuard,
    running: AtomicBool,
    /// Whether the last refresh succeeded; a failed or panicked refresh hides the stale snapshot.
    fresh: AtomicBool,
}

impl Shared {
    /// The latest snapshot while the meter runs and its last refresh succeeded; `None` otherwise.
    pub(crate) fn current(&self) -> Option<Arc<ResourceSnapshot>> {
        (self.running.load(Ordering::Relaxed) && self.fresh.load(Ordering::Relaxed)).then(|| self.cell.load())
    }

    fn refresh(&self) {
        let sampled = self
            .guard
            .read("resource", "sampler", || self.sampler.lock().unwrap_or_else(PoisonError::into_inner).sample());
        self.fresh.store(sampled.is_some(), Ordering::Relaxed);
        if let Some(snapshot) = sampled {
            self.cell.store(snapshot);
        }
    }
}

/// Stops the sampler when the last [`ResourceMeter`] clone is dropped.
struct Owner {
    shared: Arc<Shared>,
    _stop: Option<mpsc::Sender<()>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.running.store(false, Ordering::Relaxed);
    }
}

/// Samples process and system resources on a background thread and exports them as observable instruments.
/// Cheap to clone; keep one alive for as long as the resources should be reported (dropping the last clone
/// stops the thread, and the instruments then report nothing).
#[derive(Clone)]
pub struct ResourceMeter {
    owner: Arc<Owner>,
}

impl std::fmt::Debug for ResourceMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceMeter").field("sample", &self.snapshot().sample).finish()
    }
}

impl ResourceMeter {
    /// Takes a first sample on the calling thread (a few hundred microseconds of file reads) and, unless
    /// [`ResourceConfig::manual_refresh`] was set, starts the `otelwright-resources` thread that refreshes every
    /// interval. Needs no async runtime.
    pub fn start(config: ResourceConfig) -> Result<ResourceMeter, ResourceError> {
        let mut sampler = Sampler::new(&config)?;
        let first = sampler.sample().map_err(|e| ResourceError::Unsupported(e.to_string()))?;
        let shared = Arc::new(Shared {
            cell: SnapshotCell::new(first),
            sampler: Mutex::new(sampler),
            guard: SourceGuard::default(),
            running: AtomicBool::new(true),
            fresh: AtomicBool::new(true),
        });
        let stop = match config.refresh_interval {
            None => None,
            Some(interval) => {
                let (tx, rx) = mpsc::channel::<()>();
                let thread_shared = shared.clone();
                std::thread::Builder::new().name("otelwright-resources".into()).spawn(move || {
                    loop {
                        match rx.recv_timeout(interval) {
                            Err(RecvTimeoutError::Timeout) => thread_shared.refresh(),
                            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                })?;
                Some(tx)
            }
        };
        Ok(ResourceMeter { owner: Arc::new(Owner { shared, _stop: stop }) })
    }

    /// Registers the `process.*` and `system.*` observable instruments on `meter`. Call once per meter.
    pub fn register_instruments(&self, meter: &Meter) {
        instruments::register(meter, self.owner.shared.clone());
    }

    /// The latest sample: what the instruments export at the next collection. Never measures.
    pub fn snapshot(&self) -> Arc<ResourceSnapshot> {
        self.owner.shared.cell.load()
    }

    /// Samples now on the calling thread (blocking file reads, well under a millisecond) and returns the new
    /// snapshot. For manual mode, tests and benchmarks; never call it from a metric callback.
    pub fn refresh(&self) -> Arc<ResourceSnapshot> {
        self.owner.shared.refresh();
        self.snapshot()
    }
}

#[cfg(test)]
mod tests;
