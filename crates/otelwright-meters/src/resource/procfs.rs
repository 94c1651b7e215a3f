//! Linux `/proc` readings sysinfo does not give: this process's user/system CPU split and thread count
//! (`/proc/self/stat`), with the clock-tick rate from the auxiliary vector (`/proc/self/auxv`), and the
//! processes visible to this one by state (`/proc/<pid>/stat` field 3).

use std::fs;

use super::snapshot::ProcessCounts;

/// This process's CPU times and thread count from `/proc/self/stat`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct SelfStat {
    pub(super) user_seconds: f64,
    pub(super) system_seconds: f64,
    pub(super) threads: u64,
}

/// Reads `/proc/self/stat`; `ticks` is clock ticks per second.
pub(super) fn self_stat(ticks: f64) -> Option<SelfStat> {
    parse_stat(&fs::read_to_string("/proc/self/stat").ok()?, ticks)
}

fn parse_stat(text: &str, ticks: f64) -> Option<SelfStat> {
    // The command name (field 2) may contain spaces and parentheses: fields resume after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // fields[0] is field 3 (state): utime is field 14, stime 15, num_threads 20.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let threads: u64 = fields.get(17)?.parse().ok()?;
    Some(SelfStat { user_seconds: utime as f64 / ticks, system_seconds: stime as f64 / ticks, threads })
}

/// Counts the processes in `/proc` (this PID namespace: a container sees its own) by state. Processes that
/// exit while being read, and states outside the four (`X`, dead), are not counted.
pub(super) fn process_counts() -> Option<ProcessCounts> {
    let mut counts = ProcessCounts::default();
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        if !name.to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())) {
            continue;
        }
        if let Ok(stat) = fs::read_to_string(entry.path().join("stat")) {
            count_state(&mut counts, &stat);
        }
    }
    Some(counts)
}

fn count_state(counts: &mut ProcessCounts, stat: &str) {
    // proc(5): "(3) state %c", after the command name in parentheses, which may itself contain ')'.
    let state = stat.rfind(')').and_then(|i| stat[i + 1..].trim_start().chars().next());
    match state {
        Some('R') => counts.running += 1,
        Some('S' | 'D' | 'I') => counts.sleeping += 1,
        Some('T' | 't') => counts.stopped += 1,
        Some('Z') => counts.defunct += 1,
        _ => {}
    }
}

/// Clock ticks per second (`AT_CLKTCK` from the auxiliary vector), 100 when it cannot be read.
pub(super) fn clock_ticks() -> f64 {
    fs::read("/proc/self/auxv").ok().and_then(|auxv| parse_auxv_clktck(&auxv)).map_or(100.0, |t| t as f64)
}

fn parse_auxv_clktck(auxv: &[u8]) -> Option<u64> {
    const AT_CLKTCK: u64 = 17;
    let word = std::mem::size_of::<usize>();
    let read = |chunk: &[u8]| -> u64 {
        let mut buf = [0u8; 8];
        buf[..word].copy_from_slice(chunk);
        if word == 8 {
            u64::from_ne_bytes(buf)
        } else {
            u64::from(u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]))
        }
    };
    auxv.chunks_exact(2 * word)
        .map(|pair| (read(&pair[..word]), read(&pair[word..])))
        .find_map(|(k, v)| (k == AT_CLKTCK && v > 0).then_some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_self_stat_with_odd_command_names() {
        let line = "4242 (my (odd) app) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 75 0 0 20 0 9 0 123456 \
                    104857600 2560 18446744073709551615";
        let s = parse_stat(line, 100.0).unwrap();
        assert_eq!(s, SelfStat { user_seconds: 2.5, system_seconds: 0.75, threads: 9 });
        assert!(parse_stat("garbage", 100.0).is_none());
    }

    #[test]
    fn counts_processes_by_state() {
        let mut counts = ProcessCounts::default();
        for stat in ["1 (init) S 0", "7 (a) b) R 1", "8 (w) D 1", "9 (k) I 2", "10 (z) Z 1", "11 (s) T 1", "12 (d) X 1"]
        {
            count_state(&mut counts, stat);
        }
        count_state(&mut counts, "garbage");
        assert_eq!(counts, ProcessCounts { running: 1, sleeping: 3, stopped: 1, defunct: 1 });
        let here = process_counts().expect("/proc is readable");
        assert!(here.running + here.sleeping + here.stopped + here.defunct >= 1, "at least this process: {here:?}");
    }

    #[test]
    fn reads_clock_ticks_from_auxv() {
        let word = std::mem::size_of::<usize>();
        let mut auxv = Vec::new();
        for (k, v) in [(6usize, 4096usize), (17, 250), (0, 0)] {
            auxv.extend_from_slice(&k.to_ne_bytes()[..word]);
            auxv.extend_from_slice(&v.to_ne_bytes()[..word]);
        }
        assert_eq!(parse_auxv_clktck(&auxv), Some(250));
        assert!(clock_ticks() > 0.0);
        assert!(self_stat(clock_ticks()).is_some_and(|s| s.threads >= 1));
    }
}
