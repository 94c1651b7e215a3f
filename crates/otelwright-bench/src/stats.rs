//! Small statistics and output helpers shared by the benches: percentiles of latency samples, min/median/max
//! over rounds, and aligned text tables.

use std::fmt::Write as _;

/// The `p` quantile (0..=1) of sorted samples, nearest-rank; 0 when empty.
pub(crate) fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Minimum, median and maximum of a set of figures.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Spread {
    pub(crate) min: f64,
    pub(crate) median: f64,
    pub(crate) max: f64,
}

impl Spread {
    /// The spread of `values` (all zero when empty). The median of an even count is the mean of the middle two.
    pub(crate) fn of(values: &[f64]) -> Spread {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Spread::default();
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Spread { min: v[0], median, max: v[n - 1] }
    }

    /// `min / median / max` with `decimals` digits.
    pub(crate) fn show(&self, decimals: usize) -> String {
        format!("{:.d$} / {:.d$} / {:.d$}", self.min, self.median, self.max, d = decimals)
    }
}

/// Microseconds as milliseconds with two decimals.
pub(crate) fn ms(us: f64) -> String {
    format!("{:.2}", us / 1000.0)
}

/// A text table: a header row and data rows, columns padded to their widest cell (first column left-aligned,
/// the others right-aligned).
#[derive(Debug, Default)]
pub(crate) struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub(crate) fn new(header: &[&str]) -> Table {
        Table { rows: vec![header.iter().map(|s| (*s).to_owned()).collect()] }
    }

    /// Appends a row.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, one line per row.
    pub(crate) fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| self.rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c == 0 {
                    let _ = write!(line, "{cell:<w$}", w = widths[c]);
                } else {
                    let _ = write!(line, "  {cell:>w$}", w = widths[c]);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v, 1.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn spread_takes_the_middle() {
        assert_eq!(Spread::of(&[3.0, 1.0, 2.0]), Spread { min: 1.0, median: 2.0, max: 3.0 });
        assert_eq!(Spread::of(&[4.0, 1.0, 2.0, 3.0]).median, 2.5);
        assert_eq!(Spread::of(&[]), Spread::default());
        assert_eq!(Spread::of(&[1.0, 2.0, 3.0]).show(1), "1.0 / 2.0 / 3.0");
    }

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new(&["mode", "req/s"]);
        t.row(vec!["bare".into(), "12345".into()]);
        t.row(vec!["everything".into(), "9".into()]);
        assert_eq!(t.render(), "mode        req/s\nbare        12345\neverything      9\n");
    }
}
