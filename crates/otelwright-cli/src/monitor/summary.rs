//! The summary `otelwright monitor` prints on exit: how many polls answered, averages and peaks of each column,
//! and the p95 of the API response time.

use std::fmt::Write as _;

use super::sample::Sample;

/// Mean, peak and (nearest-rank) p95 of some values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stats {
    pub(crate) mean: f64,
    pub(crate) peak: f64,
    pub(crate) p95: f64,
}

pub(crate) fn stats(values: impl IntoIterator<Item = f64>) -> Option<Stats> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((0.95 * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(Stats { mean: v.iter().sum::<f64>() / v.len() as f64, peak: v[v.len() - 1], p95: v[rank - 1] })
}

/// The summary text.
pub(crate) fn render(samples: &[Sample], seconds: f64) -> String {
    let ok = samples.iter().filter(|s| s.is_ok()).count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n== monitor summary: {} samples over {seconds:.1} s; {ok} answered, {} failed ==",
        samples.len(),
        samples.len() - ok
    );
    let _ = writeln!(out, "  {:<14} {:>9} {:>9} {:>9}", "", "average", "peak", "p95");
    type Column = (&'static str, fn(&Sample) -> Option<f64>, bool);
    let columns: [Column; 6] = [
        ("CPU%", |s| s.cpu_percent, false),
        ("Mem%", |s| s.memory_percent, false),
        ("Mem(MB)", |s| s.memory_mb, false),
        ("API(ms)", |s| s.api_ms, true),
        ("DB pool use%", |s| s.pool_utilization, false),
        ("Cache hit%", |s| s.cache_hit_percent, false),
    ];
    for (name, get, with_p95) in columns {
        match stats(samples.iter().filter(|s| s.is_ok()).filter_map(get)) {
            Some(st) if with_p95 => {
                let _ = writeln!(out, "  {name:<14} {:>9.2} {:>9.2} {:>9.2}", st.mean, st.peak, st.p95);
            }
            Some(st) => {
                let _ = writeln!(out, "  {name:<14} {:>9.2} {:>9.2}", st.mean, st.peak);
            }
            None => {
                let _ = writeln!(out, "  {name:<14} {:>9}", "-");
            }
        }
    }
    let errors: Vec<&str> = samples.iter().filter(|s| !s.is_ok()).map(|s| s.status.as_str()).collect();
    if let Some(last) = errors.last() {
        let _ = writeln!(out, "  last error: {last}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_peak_and_nearest_rank_p95() {
        let s = stats((1..=100).map(f64::from)).unwrap();
        assert_eq!((s.mean, s.peak, s.p95), (50.5, 100.0, 95.0));
        let one = stats([7.0]).unwrap();
        assert_eq!((one.mean, one.peak, one.p95), (7.0, 7.0, 7.0));
        assert_eq!(stats([]), None);
    }
}
