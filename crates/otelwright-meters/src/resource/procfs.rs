//! Linux `/proc/self` readings sysinfo does not give: this process's user/system CPU split and thread count
//! (`/proc/self/stat`), with the clock-tick rate from the auxiliary vector (`/proc/self/auxv`).

use std::fs;

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
