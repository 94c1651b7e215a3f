//! Process and machine figures read from `/proc` (Linux): resident memory and CPU time of a process, CPU time per
//! thread name, and the one-line machine description every bench prints. Elsewhere the readers return `None`
//! and the benches print "n/a" instead of a figure.

use std::collections::BTreeMap;
use std::time::Duration;

/// Clock ticks per second of the CPU times in `/proc/<pid>/stat`.
fn ticks_per_second() -> u64 {
    #[cfg(target_os = "linux")]
    {
        rustix::param::clock_ticks_per_second().max(1)
    }
    #[cfg(not(target_os = "linux"))]
    {
        100
    }
}

/// User + system CPU time from the text of a `stat` file (fields 14 and 15; the command name in parentheses
/// may contain spaces, so fields are counted after its closing parenthesis).
fn parse_stat(text: &str) -> Option<(String, Duration)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = utime + stime;
    let hz = ticks_per_second();
    Some((name, Duration::from_secs(ticks / hz) + Duration::from_nanos((ticks % hz) * 1_000_000_000 / hz)))
}

/// CPU time (user + system) used so far by process `pid` and all its threads.
pub(crate) fn cpu_time(pid: u32) -> Option<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text).map(|(_, t)| t)
}

/// CPU time of this process's threads, summed per thread name (names are cut to 15 characters by Linux).
pub(crate) fn thread_cpu_times() -> BTreeMap<String, Duration> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return out };
    for entry in dir.flatten() {
        if let Ok(text) = std::fs::read_to_string(entry.path().join("stat"))
            && let Some((name, t)) = parse_stat(&text)
        {
            *out.entry(name).or_default() += t;
        }
    }
    out
}

/// Resident set size of process `pid` in bytes (`VmRSS`).
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    kib_field(&text, "VmRSS:").map(|k| k * 1024)
}

fn kib_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// Formats bytes as MiB with one decimal, or "n/a".
pub(crate) fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "n/a".to_owned(), |b| format!("{:.1}", b as f64 / (1024.0 * 1024.0)))
}

/// Signed MiB difference with one decimal, or "n/a".
pub(crate) fn mib_delta(after: Option<u64>, before: Option<u64>) -> String {
    match (after, before) {
        (Some(a), Some(b)) => format!("{:+.1}", (a as f64 - b as f64) / (1024.0 * 1024.0)),
        _ => "n/a".to_owned(),
    }
}

/// "2 CPUs (AMD EPYC), 23.4 GiB RAM, load 1.13 1.81 2.17, release build": what BENCHMARKS.md records with
/// each figure.
pub(crate) fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| t.lines().find(|l| l.starts_with("model name")).map(|l| l.to_owned()))
        .and_then(|l| l.split_once(':').map(|(_, m)| m.trim().to_owned()))
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let ram = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| kib_field(&t, "MemTotal:"))
        .map_or_else(|| "? GiB".to_owned(), |k| format!("{:.1} GiB", k as f64 / (1024.0 * 1024.0)));
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "n/a".to_owned());
    let build = if cfg!(debug_assertions) { "DEBUG build: figures are not representative" } else { "release build" };
    format!("{cpus} CPUs ({model}), {ram} RAM, load average {load}, {build}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let hz = ticks_per_second();
        let text = format!("42 (tokio (worker) 1) S 1 2 3 4 5 6 7 8 9 10 {} {} 0 0", hz * 2, hz / 2);
        let (name, t) = parse_stat(&text).unwrap();
        assert_eq!(name, "tokio (worker) 1");
        assert_eq!(t, Duration::from_millis(2500));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn own_process_figures_are_readable() {
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
        assert!(cpu_time(std::process::id()).is_some());
        assert!(!thread_cpu_times().is_empty());
    }
}
