//! Bucket distributions and their quantiles: the explicit-bucket and base-2 exponential histograms that the
//! `http.server.request.duration` data points carry, merged across data points and collection steps.
//!
//! Quantiles are estimated from the buckets alone, the way Prometheus' `histogram_quantile` does: find the
//! bucket that holds the rank `q × count` and interpolate linearly between its bounds. Two refinements use the
//! data points' own `min` and `max` when the SDK reports them: the first bucket starts at the observed minimum
//! (not at 0), the overflow bucket ends at the observed maximum (instead of answering its lower bound), and the
//! estimate is clamped to `[min, max]`, so a window with one request reports that request's duration exactly.

use std::collections::BTreeMap;

/// How the values of one window are distributed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Dist {
    /// Explicit bucket boundaries (the semconv default). `counts.len() == bounds.len() + 1`; the last count is
    /// the overflow bucket `(bounds.last(), +inf)`.
    Explicit { bounds: Vec<f64>, counts: Vec<u64> },
    /// Base-2 exponential buckets: bucket `i` holds values in `(base^i, base^(i+1)]`, `base = 2^(2^-scale)`.
    Exponential { scale: i8, zero: u64, counts: BTreeMap<i32, u64> },
}

impl Dist {
    /// Adds `other` into `self`; `false` (and `self` unchanged) when the two cannot be merged (different kinds or
    /// different explicit boundaries).
    pub(crate) fn merge(&mut self, other: &Dist) -> bool {
        match (self, other) {
            (Dist::Explicit { bounds, counts }, Dist::Explicit { bounds: b, counts: c }) => {
                if bounds != b || counts.len() != c.len() {
                    return false;
                }
                counts.iter_mut().zip(c).for_each(|(acc, n)| *acc += n);
                true
            }
            (Dist::Exponential { scale, zero, counts }, Dist::Exponential { scale: s, zero: z, counts: c }) => {
                let target = (*scale).min(*s);
                if target < *scale {
                    *counts = downscale(counts, *scale - target);
                    *scale = target;
                }
                for (&index, &n) in downscale(c, *s - target).iter() {
                    *counts.entry(index).or_default() += n;
                }
                *zero += z;
                true
            }
            _ => false,
        }
    }

    /// The `q` quantile (0..=1), interpolated inside its bucket and clamped to `[min, max]` when known. `None`
    /// when the distribution holds no value.
    pub(crate) fn quantile(&self, q: f64, min: Option<f64>, max: Option<f64>) -> Option<f64> {
        let estimate = match self {
            Dist::Explicit { bounds, counts } => explicit_quantile(bounds, counts, q, min, max),
            Dist::Exponential { scale, zero, counts } => exponential_quantile(*scale, *zero, counts, q, min, max),
        }?;
        let estimate = min.map_or(estimate, |m| estimate.max(m));
        Some(max.map_or(estimate, |m| estimate.min(m)))
    }
}

/// The rank `q × total` as a position in `1..=total`: quantile 0 is the first value, 1 the last.
fn rank(q: f64, total: u64) -> f64 {
    (q.clamp(0.0, 1.0) * total as f64).max(f64::MIN_POSITIVE)
}

fn explicit_quantile(bounds: &[f64], counts: &[u64], q: f64, min: Option<f64>, max: Option<f64>) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 || counts.len() != bounds.len() + 1 {
        return None;
    }
    let rank = rank(q, total);
    let mut seen = 0.0;
    for (i, &c) in counts.iter().enumerate() {
        let next = seen + c as f64;
        if c > 0 && next >= rank {
            let lower = match i {
                0 => min.unwrap_or(0.0).min(bounds.first().copied().unwrap_or(0.0)),
                _ => bounds[i - 1],
            };
            let upper = match bounds.get(i) {
                Some(&b) => b,
                // The overflow bucket has no upper bound: end it at the largest value seen, else answer its lower
                // bound (as Prometheus does).
                None => max.map_or(lower, |m| m.max(lower)),
            };
            return Some(lower + (upper - lower) * ((rank - seen) / c as f64));
        }
        seen = next;
    }
    bounds.last().copied()
}

fn exponential_quantile(
    scale: i8,
    zero: u64,
    counts: &BTreeMap<i32, u64>,
    q: f64,
    min: Option<f64>,
    max: Option<f64>,
) -> Option<f64> {
    let total = zero + counts.values().sum::<u64>();
    if total == 0 {
        return None;
    }
    let rank = rank(q, total);
    if zero as f64 >= rank {
        return Some(0.0);
    }
    let base_exponent = (-f64::from(scale)).exp2();
    let mut seen = zero as f64;
    for (&index, &c) in counts {
        let next = seen + c as f64;
        if c > 0 && next >= rank {
            let lower = (f64::from(index) * base_exponent).exp2();
            let upper = (f64::from(index + 1) * base_exponent).exp2();
            let lower = min.map_or(lower, |m| lower.max(m.min(upper)));
            let upper = max.map_or(upper, |m| upper.min(m.max(lower)));
            return Some(lower + (upper - lower) * ((rank - seen) / c as f64));
        }
        seen = next;
    }
    max
}

/// Re-indexes exponential buckets `by` scale steps coarser: index `i` becomes `floor(i / 2^by)`.
fn downscale(counts: &BTreeMap<i32, u64>, by: i8) -> BTreeMap<i32, u64> {
    if by <= 0 {
        return counts.clone();
    }
    let shift = u32::from(by.unsigned_abs()).min(31);
    let mut out = BTreeMap::new();
    for (&index, &n) in counts {
        *out.entry(index >> shift).or_default() += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explicit(counts: &[u64]) -> Dist {
        Dist::Explicit { bounds: vec![1.0, 2.0, 4.0], counts: counts.to_vec() }
    }

    #[test]
    fn explicit_interpolates_inside_the_bucket() {
        // 10 values in (1, 2]: the median is half-way through that bucket.
        let d = explicit(&[0, 10, 0, 0]);
        assert_eq!(d.quantile(0.5, None, None), Some(1.5));
        assert_eq!(d.quantile(1.0, None, None), Some(2.0));
        // 10 in [0, 1], 10 in (1, 2]: p25 at 0.5, p75 at 1.5.
        let d = explicit(&[10, 10, 0, 0]);
        assert_eq!(d.quantile(0.25, None, None), Some(0.5));
        assert_eq!(d.quantile(0.75, None, None), Some(1.5));
    }

    #[test]
    fn min_and_max_bound_the_estimate() {
        let d = explicit(&[0, 1, 0, 0]);
        assert_eq!(d.quantile(0.5, Some(1.2), Some(1.2)), Some(1.2));
        // The overflow bucket ends at the observed maximum, or answers its lower bound without one.
        let d = explicit(&[0, 0, 0, 4]);
        assert_eq!(d.quantile(0.5, None, None), Some(4.0));
        assert_eq!(d.quantile(0.5, Some(5.0), Some(12.0)), Some(8.0));
        assert_eq!(explicit(&[0, 0, 0, 0]).quantile(0.5, None, None), None);
    }

    #[test]
    fn explicit_merge_requires_equal_bounds() {
        let mut a = explicit(&[1, 2, 3, 4]);
        assert!(a.merge(&explicit(&[1, 1, 1, 1])));
        assert_eq!(a, explicit(&[2, 3, 4, 5]));
        let other = Dist::Explicit { bounds: vec![1.0], counts: vec![1, 1] };
        assert!(!a.merge(&other));
        assert_eq!(a, explicit(&[2, 3, 4, 5]));
    }

    #[test]
    fn exponential_quantiles_and_downscaled_merge() {
        // Scale 0: bucket i = (2^i, 2^(i+1)]. 4 values in (2, 4].
        let mut a = Dist::Exponential { scale: 0, zero: 0, counts: BTreeMap::from([(1, 4)]) };
        assert_eq!(a.quantile(0.5, None, None), Some(3.0));
        // Scale 1 buckets (2^(i/2), 2^((i+1)/2)]: index 2 = (2, 2.83], index 4 = (4, 5.66]. Downscaled to
        // scale 0 they land in (2, 4] and (4, 8].
        let b = Dist::Exponential { scale: 1, zero: 2, counts: BTreeMap::from([(2, 1), (4, 3)]) };
        assert!(a.merge(&b));
        assert_eq!(a, Dist::Exponential { scale: 0, zero: 2, counts: BTreeMap::from([(1, 5), (2, 3)]) });
        assert_eq!(a.quantile(0.1, None, None), Some(0.0));
        assert_eq!(a.quantile(1.0, None, Some(6.0)), Some(6.0));
        assert!(!a.merge(&explicit(&[1, 0, 0, 0])));
    }

    #[test]
    fn downscale_floors_negative_indexes() {
        let counts = BTreeMap::from([(-3, 1), (-1, 1), (0, 1), (3, 1)]);
        assert_eq!(downscale(&counts, 1), BTreeMap::from([(-2, 1), (-1, 1), (0, 1), (1, 1)]));
    }
}
