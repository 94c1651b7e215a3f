//! This process's cgroup (Linux, v1 and v2): the CPU quota and CPU usage, and the memory limit and working set.
//!
//! Directories are resolved once from `/proc/self/cgroup`; each sample reads only a few small files. Inside a
//! container the membership path may be the host's while the mount shows the container's own cgroup at the
//! mount root, so `<mount>/<path>` is tried first, then `<mount>`. Memory limits are read from the process's
//! cgroup and its ancestors (a pod-level limit can sit above the container's), keeping the smallest.

use std::fs;
use std::path::{Path, PathBuf};

/// One line of `/proc/self/cgroup`: its controllers (empty for v2) and path.
fn memberships(text: &str) -> impl Iterator<Item = (Vec<&str>, &str)> {
    text.lines().filter_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let list = if controllers.is_empty() { Vec::new() } else { controllers.split(',').collect() };
        Some((list, path))
    })
}

/// The directories that may hold `controller`'s files, best first, with the mount they belong to.
fn candidates(root: &Path, controllers: &[&str], controller: &str, path: &str) -> Vec<(PathBuf, PathBuf)> {
    let mounts: Vec<PathBuf> = if controllers.is_empty() {
        vec![root.to_path_buf()]
    } else {
        vec![root.join(controllers.join(",")), root.join(controller)]
    };
    let path = path.trim_start_matches('/');
    mounts.into_iter().flat_map(|m| [(m.join(path), m.clone()), (m.clone(), m)]).collect()
}

/// The first candidate directory that has `file`, and its mount.
fn find(
    root: &Path,
    membership: &str,
    controller: &str,
    v1_file: &str,
    v2_file: &str,
) -> Option<(PathBuf, PathBuf, bool)> {
    let mut v2 = None;
    for (controllers, path) in memberships(membership) {
        if controllers.is_empty() {
            v2 = candidates(root, &controllers, controller, path).into_iter().find(|(d, _)| d.join(v2_file).is_file());
        } else if controllers.contains(&controller) {
            let found =
                candidates(root, &controllers, controller, path).into_iter().find(|(d, _)| d.join(v1_file).is_file());
            if let Some((dir, mount)) = found {
                return Some((dir, mount, false));
            }
        }
    }
    v2.map(|(dir, mount)| (dir, mount, true))
}

fn read_u64(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn read_key(path: &Path, key: &str) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Where this process's cgroup CPU controller files are.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum CgroupCpu {
    /// cgroup v2: `cpu.max` and `cpu.stat` in one directory.
    V2 { dir: PathBuf },
    /// cgroup v1: `cpu.cfs_quota_us`/`cpu.cfs_period_us` in `cpu`, and `cpuacct.usage` in `cpuacct`.
    V1 { cpu: PathBuf, cpuacct: Option<PathBuf> },
}

impl CgroupCpu {
    /// Finds the CPU controller of this process under `/sys/fs/cgroup`.
    pub(super) fn detect() -> Option<CgroupCpu> {
        Self::detect_in(Path::new("/sys/fs/cgroup"), &fs::read_to_string("/proc/self/cgroup").ok()?)
    }

    fn detect_in(root: &Path, membership: &str) -> Option<CgroupCpu> {
        let (dir, _, v2) = find(root, membership, "cpu", "cpu.cfs_quota_us", "cpu.max")?;
        if v2 {
            return Some(CgroupCpu::V2 { dir });
        }
        let cpuacct = find(root, membership, "cpuacct", "cpuacct.usage", "\0").filter(|f| !f.2).map(|f| f.0);
        Some(CgroupCpu::V1 { cpu: dir, cpuacct })
    }

    /// The CPU quota in CPUs (`quota / period`), `None` when unlimited or unreadable.
    pub(super) fn quota(&self) -> Option<f64> {
        match self {
            CgroupCpu::V2 { dir } => parse_cpu_max(&fs::read_to_string(dir.join("cpu.max")).ok()?),
            CgroupCpu::V1 { cpu, .. } => {
                let quota: i64 = fs::read_to_string(cpu.join("cpu.cfs_quota_us")).ok()?.trim().parse().ok()?;
                let period: i64 = fs::read_to_string(cpu.join("cpu.cfs_period_us")).ok()?.trim().parse().ok()?;
                (quota > 0 && period > 0).then(|| quota as f64 / period as f64)
            }
        }
    }

    /// CPU time used by the whole cgroup, in seconds.
    pub(super) fn usage_seconds(&self) -> Option<f64> {
        match self {
            CgroupCpu::V2 { dir } => Some(read_key(&dir.join("cpu.stat"), "usage_usec")? as f64 / 1e6),
            CgroupCpu::V1 { cpuacct, .. } => Some(read_u64(&cpuacct.as_ref()?.join("cpuacct.usage"))? as f64 / 1e9),
        }
    }
}

fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut parts = text.split_ascii_whitespace();
    let quota = parts.next()?;
    let period: f64 = parts.next().map_or(Some(100_000.0), |p| p.parse().ok())?;
    if quota == "max" || period <= 0.0 {
        return None;
    }
    let quota: f64 = quota.parse().ok()?;
    (quota > 0.0).then(|| quota / period)
}

/// This process's memory cgroup and its ancestors up to the mount.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CgroupMemory {
    dirs: Vec<PathBuf>,
    v2: bool,
}

/// The effective memory limit and the working set charged against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MemoryLimit {
    pub(super) limit: u64,
    /// Usage minus inactive file cache (what `docker stats` and the kubelet call the working set), ≤ limit.
    pub(super) used: u64,
}

impl CgroupMemory {
    /// Finds the memory controller of this process under `/sys/fs/cgroup`.
    pub(super) fn detect() -> Option<CgroupMemory> {
        Self::detect_in(Path::new("/sys/fs/cgroup"), &fs::read_to_string("/proc/self/cgroup").ok()?)
    }

    fn detect_in(root: &Path, membership: &str) -> Option<CgroupMemory> {
        let (dir, mount, v2) = find(root, membership, "memory", "memory.limit_in_bytes", "memory.max")?;
        let limit_file = if v2 { "memory.max" } else { "memory.limit_in_bytes" };
        let dirs = dir.ancestors().take_while(|d| d.starts_with(&mount)).filter(|d| d.join(limit_file).is_file());
        Some(CgroupMemory { dirs: dirs.map(Path::to_path_buf).collect(), v2 })
    }

    /// The smallest limit below `host_total` among the cgroup and its ancestors, with that cgroup's working set;
    /// `None` when no limit is set.
    pub(super) fn read(&self, host_total: u64) -> Option<MemoryLimit> {
        let (limit_file, usage_file, inactive_key) = if self.v2 {
            ("memory.max", "memory.current", "inactive_file")
        } else {
            ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
        };
        let (limit, dir) = self
            .dirs
            .iter()
            .filter_map(|d| Some((read_u64(&d.join(limit_file))?, d)))
            .filter(|(limit, _)| *limit > 0 && *limit < host_total)
            .min_by_key(|(limit, _)| *limit)?;
        let usage = read_u64(&dir.join(usage_file))?;
        let inactive = read_key(&dir.join("memory.stat"), inactive_key).unwrap_or(0);
        Some(MemoryLimit { limit, used: usage.saturating_sub(inactive).min(limit) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempTree(PathBuf);
    impl TempTree {
        fn new(name: &str) -> Self {
            let root = std::env::temp_dir().join(format!("otelwright-cgroup-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(&root).unwrap();
            TempTree(root)
        }
        fn file(&self, path: &str, content: &str) {
            let p = self.0.join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, content).unwrap();
        }
    }
    impl Drop for TempTree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn parses_cgroup_v2_files() {
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(1.5));
    }

    #[test]
    fn v2_container_view() {
        // The membership path is the host's; the container's cgroup is the mount root.
        let t = TempTree::new("v2");
        t.file("cpu.max", "200000 100000\n");
        t.file("cpu.stat", "usage_usec 1000000\nuser_usec 800000\n");
        t.file("memory.max", "536870912\n");
        t.file("memory.current", "300000000\n");
        t.file("memory.stat", "anon 100\ninactive_file 100000000\n");
        let membership = "0::/kubepods/pod1/abc\n";
        let cpu = CgroupCpu::detect_in(&t.0, membership).unwrap();
        assert_eq!(cpu, CgroupCpu::V2 { dir: t.0.clone() });
        assert_eq!((cpu.quota(), cpu.usage_seconds()), (Some(2.0), Some(1.0)));
        let mem = CgroupMemory::detect_in(&t.0, membership).unwrap();
        let host = 8 << 30;
        assert_eq!(mem.read(host), Some(MemoryLimit { limit: 536_870_912, used: 200_000_000 }));
        t.file("memory.max", "max\n");
        assert_eq!(mem.read(host), None, "no limit");
    }

    #[test]
    fn v1_nested_with_a_parent_limit() {
        let t = TempTree::new("v1");
        t.file("cpu,cpuacct/docker/x/cpu.cfs_quota_us", "50000\n");
        t.file("cpu,cpuacct/docker/x/cpu.cfs_period_us", "100000\n");
        t.file("cpu,cpuacct/docker/x/cpuacct.usage", "3000000000\n");
        t.file("memory/memory.limit_in_bytes", "9223372036854771712\n");
        t.file("memory/docker/memory.limit_in_bytes", "1073741824\n");
        t.file("memory/docker/memory.usage_in_bytes", "600000000\n");
        t.file("memory/docker/x/memory.limit_in_bytes", "9223372036854771712\n");
        t.file("memory/docker/x/memory.usage_in_bytes", "400000000\n");
        let membership = "5:memory:/docker/x\n4:cpu,cpuacct:/docker/x\n0::/\n";
        let cpu = CgroupCpu::detect_in(&t.0, membership).unwrap();
        assert_eq!((cpu.quota(), cpu.usage_seconds()), (Some(0.5), Some(3.0)));
        t.file("cpu,cpuacct/docker/x/cpu.cfs_quota_us", "-1\n");
        assert_eq!(cpu.quota(), None);
        let mem = CgroupMemory::detect_in(&t.0, membership).unwrap();
        assert_eq!(mem.read(16 << 30), Some(MemoryLimit { limit: 1 << 30, used: 600_000_000 }), "the parent's limit");
        assert_eq!(mem.read(512 << 20), None, "a limit above host RAM is no limit");
    }

    #[test]
    fn no_cgroup() {
        let t = TempTree::new("none");
        assert_eq!(CgroupCpu::detect_in(&t.0, "0::/\n"), None);
        assert_eq!(CgroupMemory::detect_in(&t.0, "0::/\n"), None);
    }
}
