//! The resource [`Sampler`]: one refresh reads only what the instruments report — this process (and of the others
//! only their state, for `system.process.count`), RAM, global CPU, the cgroup limits, load average and the configured mount points — and turns the
//! change since the previous refresh into utilizations.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use sysinfo::{
    CpuRefreshKind, Disk, DiskRefreshKind, Disks, MemoryRefreshKind, Pid, ProcessRefreshKind, ProcessesToUpdate, System,
};

use super::ResourceError;
use super::config::ResourceConfig;
use super::snapshot::{DiskIoStats, FilesystemStats, LoadAverage, ProcessStats, ResourceSnapshot, SystemStats};
use crate::source::SourceError;

#[cfg(target_os = "linux")]
use super::cgroup;
#[cfg(target_os = "linux")]
use super::procfs;

/// Cumulative values of the previous refresh.
#[derive(Debug, Clone, Copy)]
struct Previous {
    at: Instant,
    cpu_user: Option<f64>,
    cpu_system: Option<f64>,
    cpu_total: f64,
    cgroup_cpu: Option<f64>,
}

pub(super) struct Sampler {
    system: System,
    pid: Pid,
    disks: Vec<Disk>,
    cpus_host: f64,
    #[cfg(target_os = "linux")]
    ticks: f64,
    #[cfg(target_os = "linux")]
    cgroup_cpu: Option<cgroup::CgroupCpu>,
    #[cfg(target_os = "linux")]
    cgroup_memory: Option<cgroup::CgroupMemory>,
    previous: Option<Previous>,
    sample: u64,
}

impl Sampler {
    pub(super) fn new(config: &ResourceConfig) -> Result<Sampler, ResourceError> {
        let unsupported = |e: sysinfo::Error| ResourceError::Unsupported(e.to_string());
        let system = System::new().map_err(unsupported)?;
        let pid = sysinfo::get_current_pid().map_err(|e| ResourceError::Unsupported(e.to_string()))?;
        let all = Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing()).map_err(unsupported)?;
        let wanted = &config.mount_points;
        let disks: Vec<Disk> =
            Vec::from(all).into_iter().filter(|d| wanted.iter().any(|m| m.as_path() == d.mount_point())).collect();
        for missing in wanted.iter().filter(|m| !disks.iter().any(|d| d.mount_point() == m.as_path())) {
            tracing::warn!(target: "otelwright_meters", mount_point = %missing.display(), "no such mount point; not reported");
        }
        let cpus_host = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
        Ok(Sampler {
            system,
            pid,
            disks,
            cpus_host,
            #[cfg(target_os = "linux")]
            ticks: procfs::clock_ticks(),
            #[cfg(target_os = "linux")]
            cgroup_cpu: cgroup::CgroupCpu::detect(),
            #[cfg(target_os = "linux")]
            cgroup_memory: cgroup::CgroupMemory::detect(),
            previous: None,
            sample: 0,
        })
    }

    /// Refreshes and returns the new snapshot; fails when this process cannot be read at all.
    pub(super) fn sample(&mut self) -> Result<ResourceSnapshot, SourceError> {
        let now = Instant::now();
        let interval = self.previous.map(|p| now.duration_since(p.at).as_secs_f64()).filter(|s| *s > 0.0);
        self.sample += 1;

        // This process only: no task (thread) list, no command line or environment.
        let kind = ProcessRefreshKind::nothing().with_memory().with_disk_usage().without_tasks();
        #[cfg(not(target_os = "linux"))]
        let kind = kind.with_cpu();
        self.system.refresh_processes_specifics(ProcessesToUpdate::Some(&[self.pid]), true, kind);
        self.system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        self.system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());

        #[cfg(target_os = "linux")]
        let (cpu_quota, cgroup_cpu) = match &self.cgroup_cpu {
            Some(cg) => match cg.quota() {
                Some(quota) => (Some(quota), cg.usage_seconds()),
                None => (None, None),
            },
            None => (None, None),
        };
        #[cfg(not(target_os = "linux"))]
        let (cpu_quota, cgroup_cpu): (Option<f64>, Option<f64>) = (None, None);
        let cpus_available = cpu_quota.unwrap_or(self.cpus_host);

        let p = self.system.process(self.pid).ok_or_else(|| SourceError::failed("cannot read this process"))?;
        let io = p.disk_usage();
        let mut process = ProcessStats {
            pid: self.pid.as_u32(),
            cpu_seconds: p.accumulated_cpu_time() as f64 / 1000.0,
            memory_rss_bytes: p.memory(),
            memory_virtual_bytes: p.virtual_memory(),
            open_file_descriptors: p.open_files().map(|n| n as u64),
            disk_read_bytes: io.total_read_bytes,
            disk_write_bytes: io.total_written_bytes,
            uptime_seconds: p.run_time() as f64,
            ..Default::default()
        };
        #[cfg(target_os = "linux")]
        if let Some(stat) = procfs::self_stat(self.ticks) {
            process.cpu_user_seconds = Some(stat.user_seconds);
            process.cpu_system_seconds = Some(stat.system_seconds);
            process.cpu_seconds = stat.user_seconds + stat.system_seconds;
            process.threads = Some(stat.threads);
        }

        let mut system = SystemStats {
            cpus_available,
            cpu_quota,
            memory_total_bytes: self.system.total_memory(),
            ..Default::default()
        };
        #[cfg(target_os = "linux")]
        let memory_limit =
            self.cgroup_memory.as_ref().and_then(|m| m.read(system.memory_total_bytes)).map(|m| (m.limit, m.used));
        #[cfg(not(target_os = "linux"))]
        let memory_limit: Option<(u64, u64)> = None;
        match memory_limit {
            Some((limit, used)) => {
                system.memory_limit_bytes = Some(limit);
                system.memory_used_bytes = used;
                system.memory_free_bytes = limit - used;
                system.memory_available_bytes = limit - used;
            }
            None => {
                system.memory_used_bytes = self.system.used_memory();
                system.memory_free_bytes = self.system.free_memory();
                system.memory_available_bytes = self.system.available_memory();
            }
        }
        let capacity = system.memory_capacity_bytes();
        system.memory_utilization = (capacity > 0).then(|| system.memory_used_bytes as f64 / capacity as f64);
        #[cfg(target_os = "linux")]
        {
            system.process_counts = procfs::process_counts();
        }
        system.load_average = System::load_average().ok().filter(|_| cfg!(unix)).map(|l| LoadAverage {
            one: l.one,
            five: l.five,
            fifteen: l.fifteen,
        });

        if let (Some(prev), Some(secs)) = (self.previous, interval) {
            let share = |now: f64, before: f64| ((now - before).max(0.0) / (secs * cpus_available)).max(0.0);
            process.cpu_utilization = Some(share(process.cpu_seconds, prev.cpu_total));
            if let (Some(now), Some(before)) = (process.cpu_user_seconds, prev.cpu_user) {
                process.cpu_user_utilization = Some(share(now, before));
            }
            if let (Some(now), Some(before)) = (process.cpu_system_seconds, prev.cpu_system) {
                process.cpu_system_utilization = Some(share(now, before));
            }
            system.cpu_utilization = match (cgroup_cpu, prev.cgroup_cpu) {
                (Some(now), Some(before)) => Some(share(now, before)),
                _ if cpu_quota.is_none() => Some(f64::from(self.system.global_cpu_usage()) / 100.0),
                _ => None,
            };
        }

        let (filesystems, disks) = self.sample_disks();
        self.previous = Some(Previous {
            at: now,
            cpu_user: process.cpu_user_seconds,
            cpu_system: process.cpu_system_seconds,
            cpu_total: process.cpu_seconds,
            cgroup_cpu,
        });
        let sampled_at_unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        Ok(ResourceSnapshot {
            sample: self.sample,
            sampled_at_unix_ms,
            interval_seconds: interval,
            process,
            system,
            filesystems,
            disks,
        })
    }

    fn sample_disks(&mut self) -> (Vec<FilesystemStats>, Vec<DiskIoStats>) {
        let mut filesystems = Vec::with_capacity(self.disks.len());
        let mut disks: Vec<DiskIoStats> = Vec::new();
        for disk in self.disks.iter_mut() {
            disk.refresh_specifics(DiskRefreshKind::nothing().with_storage().with_io_usage());
            let device: Arc<str> = Arc::from(disk.name().to_string_lossy().as_ref());
            let total = disk.total_space();
            let free = disk.available_space().min(total);
            filesystems.push(FilesystemStats {
                device: device.clone(),
                mount_point: Arc::from(disk.mount_point().to_string_lossy().as_ref()),
                fs_type: Arc::from(disk.file_system().to_string_lossy().as_ref()),
                total_bytes: total,
                used_bytes: total - free,
                free_bytes: free,
            });
            let short: Arc<str> = Arc::from(device.strip_prefix("/dev/").unwrap_or(&device));
            if !disks.iter().any(|d| d.device == short) {
                let io = disk.usage();
                disks.push(DiskIoStats {
                    device: short,
                    read_bytes: io.total_read_bytes,
                    write_bytes: io.total_written_bytes,
                });
            }
        }
        (filesystems, disks)
    }
}
