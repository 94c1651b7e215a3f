//! CPU placement: the service under test on one core, the load generator (and the receiver, which stands for a
//! collector on another machine) on another, so the two never compete for a core. Linux only, through rustix's
//! safe `sched_setaffinity`; elsewhere, or with fewer than two usable cores, nothing is pinned and every bench
//! says so in its header.

/// Where the benches put their processes.
#[derive(Clone, Debug)]
pub(crate) struct Placement {
    /// The core of the service under test (and, in `export`/`collect`, of the SDK under test).
    pub(crate) server: Option<usize>,
    /// The core of the load generator and the receiver.
    pub(crate) client: Option<usize>,
    /// One line for the bench header.
    pub(crate) note: String,
}

impl Placement {
    /// Plans the placement on the cores this process may use.
    pub(crate) fn plan(no_pin: bool) -> Placement {
        let cpus = allowed_cpus();
        if no_pin {
            return Placement { server: None, client: None, note: "not pinned (--no-pin)".into() };
        }
        match cpus.as_slice() {
            [server, client, ..] if cfg!(target_os = "linux") => Placement {
                server: Some(*server),
                client: Some(*client),
                note: format!(
                    "service on CPU {server}; load generator and receiver on CPU {client} ({} usable)",
                    cpus.len()
                ),
            },
            _ => Placement {
                server: None,
                client: None,
                note: format!("not pinned: {} usable CPU(s) or no sched_setaffinity on this OS", cpus.len()),
            },
        }
    }

    /// Environment for a child pinned to one core: one tokio worker, as a service sized for one core would run.
    pub(crate) fn child_env(cpu: Option<usize>) -> Vec<(&'static str, String)> {
        match cpu {
            Some(_) => vec![("TOKIO_WORKER_THREADS", "1".to_owned())],
            None => Vec::new(),
        }
    }
}

/// The CPUs this process may run on.
pub(crate) fn allowed_cpus() -> Vec<usize> {
    #[cfg(target_os = "linux")]
    if let Ok(set) = rustix::thread::sched_getaffinity(None) {
        let cpus: Vec<usize> = (0..rustix::thread::CpuSet::MAX_CPU).filter(|&i| set.is_set(i)).collect();
        if !cpus.is_empty() {
            return cpus;
        }
    }
    (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
}

/// Pins the calling thread (and the threads it starts later) to `cpu`.
pub(crate) fn pin_current_thread(cpu: usize) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        let mut set = rustix::thread::CpuSet::new();
        set.set(cpu);
        rustix::thread::sched_setaffinity(None, &set).map_err(|e| format!("pinning to CPU {cpu}: {e}"))
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(format!("cannot pin to CPU {cpu} on this OS"))
    }
}

/// Pins every thread of this process that exists now to `cpu`; threads started later inherit it from their
/// parent. Used at the start of a bench process, before the SDK starts its own threads.
pub(crate) fn pin_process(cpu: usize) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        let mut set = rustix::thread::CpuSet::new();
        set.set(cpu);
        let tasks = std::fs::read_dir("/proc/self/task").map_err(|e| format!("listing threads: {e}"))?;
        for entry in tasks.flatten() {
            let tid = entry.file_name().to_string_lossy().parse::<i32>().ok();
            if let Some(pid) = tid.and_then(rustix::process::Pid::from_raw) {
                // A thread may have exited since the listing: ignore those.
                let _ = rustix::thread::sched_setaffinity(Some(pid), &set);
            }
        }
        pin_current_thread(cpu)
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(format!("cannot pin to CPU {cpu} on this OS"))
    }
}
