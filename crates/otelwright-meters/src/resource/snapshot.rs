//! The resource snapshot: one refresh's numbers, read by every resource callback and by the JSON endpoint.

use std::sync::Arc;

use serde::Serialize;

/// Processes by `process.state` (semantic conventions, "Metric: `system.process.count`", attribute `process.state`:
/// `running`, `sleeping`, `stopped`, `defunct`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProcessCounts {
    /// State `R`.
    pub running: u64,
    /// States `S` (interruptible sleep), `D` (uninterruptible, usually disk) and `I` (idle kernel thread).
    pub sleeping: u64,
    /// States `T` (stopped by a signal) and `t` (stopped by a tracer).
    pub stopped: u64,
    /// State `Z` (zombie: exited, not yet reaped).
    pub defunct: u64,
}

/// Everything one refresh measured. Cumulative values are totals since process (or boot) start;
/// utilizations are computed from the change since the previous refresh.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResourceSnapshot {
    /// Refresh number, from 1.
    pub sample: u64,
    /// Wall-clock time of the refresh, milliseconds since the Unix epoch.
    pub sampled_at_unix_ms: u64,
    /// Seconds since the previous refresh (the window of the utilizations), `None` on the first.
    pub interval_seconds: Option<f64>,
    /// This process.
    pub process: ProcessStats,
    /// The host, or the container when cgroup limits are set.
    pub system: SystemStats,
    /// The configured mount points.
    pub filesystems: Vec<FilesystemStats>,
    /// The block devices behind the configured mount points.
    pub disks: Vec<DiskIoStats>,
}

/// This process's resources.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProcessStats {
    /// Process id.
    pub pid: u32,
    /// Total CPU time, seconds.
    pub cpu_seconds: f64,
    /// User-mode CPU time, seconds (Linux).
    pub cpu_user_seconds: Option<f64>,
    /// Kernel-mode CPU time, seconds (Linux).
    pub cpu_system_seconds: Option<f64>,
    /// CPU time over the last interval ÷ (interval × CPUs available), 0..1.
    pub cpu_utilization: Option<f64>,
    /// The user-mode part of `cpu_utilization`.
    pub cpu_user_utilization: Option<f64>,
    /// The kernel-mode part of `cpu_utilization`.
    pub cpu_system_utilization: Option<f64>,
    /// Resident set size, bytes.
    pub memory_rss_bytes: u64,
    /// Virtual memory size, bytes.
    pub memory_virtual_bytes: u64,
    /// Threads (Linux).
    pub threads: Option<u64>,
    /// Open file descriptors (Linux).
    pub open_file_descriptors: Option<u64>,
    /// Bytes read from storage since start.
    pub disk_read_bytes: u64,
    /// Bytes written to storage since start.
    pub disk_write_bytes: u64,
    /// Seconds since the process started (whole seconds).
    pub uptime_seconds: f64,
}

impl ProcessStats {
    /// Resident set size in MiB.
    pub fn memory_rss_mb(&self) -> f64 {
        self.memory_rss_bytes as f64 / MIB
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// The machine's (or container's) CPU and memory.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SystemStats {
    /// CPUs this process may use: the cgroup quota when set, else the CPUs in its affinity mask.
    pub cpus_available: f64,
    /// The cgroup CPU quota in CPUs, when set.
    pub cpu_quota: Option<f64>,
    /// Non-idle share of the CPUs available over the last interval (the cgroup's usage against its quota when
    /// one is set, else the host's), 0..1.
    pub cpu_utilization: Option<f64>,
    /// Host RAM, bytes.
    pub memory_total_bytes: u64,
    /// The cgroup memory limit, bytes, when set (usage and utilization are then the cgroup's).
    pub memory_limit_bytes: Option<u64>,
    /// Used memory, bytes (host: total − available; cgroup: its working set, usage − inactive file cache).
    pub memory_used_bytes: u64,
    /// Free memory, bytes (host: MemFree; cgroup: limit − working set).
    pub memory_free_bytes: u64,
    /// Memory available to new allocations without swapping, bytes.
    pub memory_available_bytes: u64,
    /// `used ÷ (limit or total)`, 0..1.
    pub memory_utilization: Option<f64>,
    /// Load averages (Unix).
    pub load_average: Option<LoadAverage>,
    /// Processes visible to this one by state (Linux: this PID namespace).
    pub process_counts: Option<ProcessCounts>,
}

impl SystemStats {
    /// The memory that utilization is computed against: the cgroup limit when set, else host RAM.
    pub fn memory_capacity_bytes(&self) -> u64 {
        self.memory_limit_bytes.unwrap_or(self.memory_total_bytes)
    }

    /// Available memory in MiB.
    pub fn memory_available_mb(&self) -> f64 {
        self.memory_available_bytes as f64 / MIB
    }
}

/// 1, 5 and 15 minute load averages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LoadAverage {
    /// One minute.
    pub one: f64,
    /// Five minutes.
    pub five: f64,
    /// Fifteen minutes.
    pub fifteen: f64,
}

/// One configured mount point.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FilesystemStats {
    /// The mounted device (`system.device`), e.g. `/dev/sda1`.
    pub device: Arc<str>,
    /// Where it is mounted.
    pub mount_point: Arc<str>,
    /// Filesystem type, e.g. `ext4`.
    pub fs_type: Arc<str>,
    /// Size, bytes.
    pub total_bytes: u64,
    /// Used bytes (size − available to unprivileged users; includes reserved blocks).
    pub used_bytes: u64,
    /// Bytes available to unprivileged users.
    pub free_bytes: u64,
}

/// Cumulative I/O of one block device.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DiskIoStats {
    /// Device name without `/dev/` (`system.device`), e.g. `sda1`.
    pub device: Arc<str>,
    /// Bytes read since boot.
    pub read_bytes: u64,
    /// Bytes written since boot.
    pub write_bytes: u64,
}
