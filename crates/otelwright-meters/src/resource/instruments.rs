//! The `process.*` and `system.*` observable instruments. Every callback reads the same [`super::Shared`]
//! snapshot; none of them measures anything.

use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;

use super::Shared;
use super::snapshot::ResourceSnapshot;
use crate::names::{attr, process as p, system as s};

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn kv(key: &'static str, value: &'static str) -> [KeyValue; 1] {
    [KeyValue::new(key, value)]
}

/// The fixed attribute sets, built once and shared by the callbacks.
struct Attrs {
    user: [KeyValue; 1],
    system: [KeyValue; 1],
    read: [KeyValue; 1],
    write: [KeyValue; 1],
    used: [KeyValue; 1],
    free: [KeyValue; 1],
    running: [KeyValue; 1],
    sleeping: [KeyValue; 1],
    stopped: [KeyValue; 1],
    defunct: [KeyValue; 1],
}

pub(super) fn register(meter: &Meter, shared: Arc<Shared>) {
    let attrs = Arc::new(Attrs {
        user: kv(attr::CPU_MODE, "user"),
        system: kv(attr::CPU_MODE, "system"),
        read: kv(attr::DISK_IO_DIRECTION, "read"),
        write: kv(attr::DISK_IO_DIRECTION, "write"),
        used: kv(attr::SYSTEM_MEMORY_STATE, "used"),
        free: kv(attr::SYSTEM_MEMORY_STATE, "free"),
        running: kv(attr::PROCESS_STATE, "running"),
        sleeping: kv(attr::PROCESS_STATE, "sleeping"),
        stopped: kv(attr::PROCESS_STATE, "stopped"),
        defunct: kv(attr::PROCESS_STATE, "defunct"),
    });

    // Registers one observable instrument whose callback runs `$body` on the latest snapshot, if any.
    macro_rules! observe {
        ($builder:expr, $unit:expr, $desc:expr, |$o:ident, $snap:ident, $a:ident| $body:block) => {{
            let (shared, attrs) = (shared.clone(), attrs.clone());
            $builder
                .with_unit($unit)
                .with_description($desc)
                .with_callback(move |$o| {
                    if let Some(snapshot) = shared.current() {
                        #[allow(unused_variables)]
                        let ($snap, $a): (&ResourceSnapshot, &Attrs) = (&snapshot, &attrs);
                        $body
                    }
                })
                .build();
        }};
    }

    observe!(meter.f64_observable_counter(p::CPU_TIME), "s", "Total CPU seconds by CPU mode", |o, snap, a| {
        match (snap.process.cpu_user_seconds, snap.process.cpu_system_seconds) {
            (Some(u), Some(k)) => {
                o.observe(u, &a.user);
                o.observe(k, &a.system);
            }
            _ => o.observe(snap.process.cpu_seconds, &[]),
        }
    });
    observe!(
        meter.f64_observable_gauge(p::CPU_UTILIZATION),
        "1",
        "CPU time over the last interval divided by elapsed time times CPUs available",
        |o, snap, a| {
            match (snap.process.cpu_user_utilization, snap.process.cpu_system_utilization) {
                (Some(u), Some(k)) => {
                    o.observe(u, &a.user);
                    o.observe(k, &a.system);
                }
                _ => {
                    if let Some(t) = snap.process.cpu_utilization {
                        o.observe(t, &[]);
                    }
                }
            }
        }
    );
    observe!(meter.i64_observable_up_down_counter(p::MEMORY_USAGE), "By", "Resident set size", |o, snap, a| {
        o.observe(i64_of(snap.process.memory_rss_bytes), &[]);
    });
    observe!(meter.i64_observable_up_down_counter(p::MEMORY_VIRTUAL), "By", "Virtual memory size", |o, snap, a| {
        o.observe(i64_of(snap.process.memory_virtual_bytes), &[]);
    });
    observe!(meter.i64_observable_up_down_counter(p::THREAD_COUNT), "{thread}", "Process threads", |o, snap, a| {
        if let Some(v) = snap.process.threads {
            o.observe(i64_of(v), &[]);
        }
    });
    observe!(
        meter.i64_observable_up_down_counter(p::FILE_DESCRIPTOR_COUNT),
        "{file_descriptor}",
        "Open file descriptors",
        |o, snap, a| {
            if let Some(v) = snap.process.open_file_descriptors {
                o.observe(i64_of(v), &[]);
            }
        }
    );
    observe!(meter.u64_observable_counter(p::DISK_IO), "By", "Bytes read from and written to storage", |o, snap, a| {
        o.observe(snap.process.disk_read_bytes, &a.read);
        o.observe(snap.process.disk_write_bytes, &a.write);
    });
    observe!(meter.f64_observable_gauge(p::UPTIME), "s", "Time since the process started", |o, snap, a| {
        o.observe(snap.process.uptime_seconds, &[]);
    });
    observe!(
        meter.i64_observable_up_down_counter(s::PROCESS_COUNT),
        "{process}",
        "Total number of processes in each state",
        |o, snap, a| {
            if let Some(c) = snap.system.process_counts {
                o.observe(i64_of(c.running), &a.running);
                o.observe(i64_of(c.sleeping), &a.sleeping);
                o.observe(i64_of(c.stopped), &a.stopped);
                o.observe(i64_of(c.defunct), &a.defunct);
            }
        }
    );
    observe!(
        meter.f64_observable_gauge(s::CPU_UTILIZATION),
        "1",
        "Non-idle share of the CPUs available (the cgroup quota when set) over the last interval",
        |o, snap, a| {
            if let Some(v) = snap.system.cpu_utilization {
                o.observe(v, &[]);
            }
        }
    );
    observe!(meter.i64_observable_up_down_counter(s::MEMORY_USAGE), "By", "Memory in use and free", |o, snap, a| {
        o.observe(i64_of(snap.system.memory_used_bytes), &a.used);
        o.observe(i64_of(snap.system.memory_free_bytes), &a.free);
    });
    observe!(
        meter.f64_observable_gauge(s::MEMORY_UTILIZATION),
        "1",
        "Memory in use and free as a share of the cgroup limit when set, else of host RAM",
        |o, snap, a| {
            let capacity = snap.system.memory_capacity_bytes();
            if capacity > 0 {
                o.observe(snap.system.memory_used_bytes as f64 / capacity as f64, &a.used);
                o.observe(snap.system.memory_free_bytes as f64 / capacity as f64, &a.free);
            }
        }
    );
    observe!(meter.i64_observable_up_down_counter(s::MEMORY_LIMIT), "By", "The cgroup memory limit", |o, snap, a| {
        if let Some(v) = snap.system.memory_limit_bytes {
            o.observe(i64_of(v), &[]);
        }
    });
    observe!(
        meter.u64_observable_counter(s::DISK_IO),
        "By",
        "Bytes read from and written to a device",
        |o, snap, a| {
            for d in &snap.disks {
                let device = KeyValue::new(attr::SYSTEM_DEVICE, d.device.clone());
                o.observe(d.read_bytes, &[device.clone(), a.read[0].clone()]);
                o.observe(d.write_bytes, &[device, a.write[0].clone()]);
            }
        }
    );
    observe!(
        meter.i64_observable_up_down_counter(s::FILESYSTEM_USAGE),
        "By",
        "Filesystem space used and free (available to unprivileged users)",
        |o, snap, a| {
            for f in &snap.filesystems {
                let base = [
                    KeyValue::new(attr::SYSTEM_DEVICE, f.device.clone()),
                    KeyValue::new(attr::SYSTEM_FILESYSTEM_TYPE, f.fs_type.clone()),
                    KeyValue::new(attr::SYSTEM_FILESYSTEM_MOUNTPOINT, f.mount_point.clone()),
                ];
                for (state, value) in [("used", f.used_bytes), ("free", f.free_bytes)] {
                    let mut attrs = base.to_vec();
                    attrs.push(KeyValue::new(attr::SYSTEM_FILESYSTEM_STATE, state));
                    o.observe(i64_of(value), &attrs);
                }
            }
        }
    );
    type Pick = fn(&super::snapshot::LoadAverage) -> f64;
    let loads: [(&'static str, Pick); 3] =
        [(s::LOAD_AVERAGE_1M, |l| l.one), (s::LOAD_AVERAGE_5M, |l| l.five), (s::LOAD_AVERAGE_15M, |l| l.fifteen)];
    for (name, pick) in loads {
        observe!(meter.f64_observable_gauge(name), "{thread}", "Load average", |o, snap, a| {
            if let Some(l) = &snap.system.load_average {
                o.observe(pick(l), &[]);
            }
        });
    }
}
