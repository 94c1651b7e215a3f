//! Resource meters through a real SDK pipeline: every exported value equals the snapshot the sampler took,
//! and the snapshot agrees with what the kernel reports.

use std::time::{Duration, Instant};

use super::*;
use crate::names::{attr, process as p, system as s};
use crate::testing::{Collector, Point};

fn one(points: &[Point], name: &str, key_value: Option<(&str, &str)>) -> Option<f64> {
    points.iter().find(|pt| pt.name == name && key_value.is_none_or(|(k, v)| pt.attr(k) == Some(v))).map(|pt| pt.value)
}

fn burn_cpu(for_at_least: Duration) {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < for_at_least {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

#[test]
fn exported_values_equal_the_snapshot() {
    let collector = Collector::new();
    let resources = ResourceMeter::start(ResourceConfig::default().manual_refresh()).unwrap();
    resources.register_instruments(&collector.meter());
    burn_cpu(Duration::from_millis(150));
    let snap = resources.refresh();
    let points = collector.collect();

    let pr = &snap.process;
    assert_eq!(snap.sample, 2);
    assert!(snap.interval_seconds.unwrap() >= 0.15);
    assert_eq!(one(&points, p::CPU_TIME, Some((attr::CPU_MODE, "user"))), pr.cpu_user_seconds);
    assert_eq!(one(&points, p::CPU_TIME, Some((attr::CPU_MODE, "system"))), pr.cpu_system_seconds);
    assert_eq!(one(&points, p::CPU_UTILIZATION, Some((attr::CPU_MODE, "user"))), pr.cpu_user_utilization);
    let total = pr.cpu_utilization.unwrap();
    assert!(total > 0.0 && total <= 1.5, "burned CPU for 150 ms: {total}");
    assert_eq!(one(&points, p::MEMORY_USAGE, None), Some(pr.memory_rss_bytes as f64));
    assert_eq!(one(&points, p::MEMORY_VIRTUAL, None), Some(pr.memory_virtual_bytes as f64));
    assert_eq!(one(&points, p::THREAD_COUNT, None), pr.threads.map(|t| t as f64));
    assert_eq!(one(&points, p::FILE_DESCRIPTOR_COUNT, None), pr.open_file_descriptors.map(|t| t as f64));
    assert_eq!(one(&points, p::DISK_IO, Some((attr::DISK_IO_DIRECTION, "read"))), Some(pr.disk_read_bytes as f64));
    assert_eq!(one(&points, p::DISK_IO, Some((attr::DISK_IO_DIRECTION, "write"))), Some(pr.disk_write_bytes as f64));
    assert_eq!(one(&points, p::UPTIME, None), Some(pr.uptime_seconds));

    let sy = &snap.system;
    assert_eq!(one(&points, s::CPU_UTILIZATION, None), sy.cpu_utilization);
    assert_eq!(
        one(&points, s::MEMORY_USAGE, Some((attr::SYSTEM_MEMORY_STATE, "used"))),
        Some(sy.memory_used_bytes as f64)
    );
    assert_eq!(
        one(&points, s::MEMORY_USAGE, Some((attr::SYSTEM_MEMORY_STATE, "free"))),
        Some(sy.memory_free_bytes as f64)
    );
    assert_eq!(one(&points, s::MEMORY_UTILIZATION, Some((attr::SYSTEM_MEMORY_STATE, "used"))), sy.memory_utilization);
    assert_eq!(one(&points, s::MEMORY_LIMIT, None), sy.memory_limit_bytes.map(|l| l as f64));
    if let Some(l) = &sy.load_average {
        assert_eq!(one(&points, s::LOAD_AVERAGE_1M, None), Some(l.one));
        assert_eq!(one(&points, s::LOAD_AVERAGE_15M, None), Some(l.fifteen));
    }
    for f in &snap.filesystems {
        let used = points.iter().find(|pt| {
            pt.name == s::FILESYSTEM_USAGE
                && pt.attr(attr::SYSTEM_FILESYSTEM_MOUNTPOINT) == Some(&*f.mount_point)
                && pt.attr(attr::SYSTEM_FILESYSTEM_STATE) == Some("used")
        });
        assert_eq!(used.map(|pt| pt.value), Some(f.used_bytes as f64));
        assert_eq!(used.unwrap().attr(attr::SYSTEM_DEVICE), Some(&*f.device));
    }
    for d in &snap.disks {
        let read = points.iter().find(|pt| {
            pt.name == s::DISK_IO
                && pt.attr(attr::SYSTEM_DEVICE) == Some(&*d.device)
                && pt.attr(attr::DISK_IO_DIRECTION) == Some("read")
        });
        assert_eq!(read.map(|pt| pt.value), Some(d.read_bytes as f64));
    }
    #[cfg(target_os = "linux")]
    {
        let counts = sy.process_counts.expect("process counts on Linux");
        // A process's state is its main thread's (proc(5)), so this one may well be sleeping; it is counted.
        let total = counts.running + counts.sleeping + counts.stopped + counts.defunct;
        assert!(total >= 1, "at least this process: {counts:?}");
        for (state, n) in [
            ("running", counts.running),
            ("sleeping", counts.sleeping),
            ("stopped", counts.stopped),
            ("defunct", counts.defunct),
        ] {
            assert_eq!(one(&points, s::PROCESS_COUNT, Some((attr::PROCESS_STATE, state))), Some(n as f64), "{state}");
        }
    }
    let unit = |name: &str| points.iter().find(|pt| pt.name == name).map(|pt| pt.unit.clone());
    #[cfg(target_os = "linux")]
    assert_eq!(unit(s::PROCESS_COUNT).as_deref(), Some("{process}"));
    assert_eq!(unit(p::CPU_TIME).as_deref(), Some("s"));
    assert_eq!(unit(p::MEMORY_USAGE).as_deref(), Some("By"));
    assert_eq!(unit(s::MEMORY_UTILIZATION).as_deref(), Some("1"));
}

#[cfg(target_os = "linux")]
#[test]
fn snapshot_agrees_with_the_kernel() {
    let resources = ResourceMeter::start(ResourceConfig::default().manual_refresh()).unwrap();
    let snap = resources.refresh();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let rss = field("VmRSS:") * 1024;
    let diff = (snap.process.memory_rss_bytes as f64 - rss as f64).abs() / rss as f64;
    assert!(diff < 0.2, "RSS {} vs /proc {}", snap.process.memory_rss_bytes, rss);
    assert!(snap.process.threads.unwrap() >= 1);
    assert!(snap.process.open_file_descriptors.unwrap() >= 3);
    assert_eq!(snap.process.pid, std::process::id());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kib: u64 = meminfo.lines().next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(snap.system.memory_total_bytes, total_kib * 1024);
    assert!(snap.filesystems.iter().any(|f| &*f.mount_point == "/" && f.total_bytes > 0));
}

#[test]
fn background_refresh_and_stop() {
    let collector = Collector::new();
    let resources =
        ResourceMeter::start(ResourceConfig::default().refresh_interval(Duration::from_millis(50))).unwrap();
    resources.register_instruments(&collector.meter());
    let deadline = Instant::now() + Duration::from_secs(5);
    while resources.snapshot().sample < 3 {
        assert!(Instant::now() < deadline, "the sampler thread refreshes");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(one(&collector.collect(), p::MEMORY_USAGE, None).is_some());
    drop(resources);
    assert!(one(&collector.collect(), p::MEMORY_USAGE, None).is_none(), "a dropped meter reports nothing");
}
