//! [`RequestWindow`]: request count, errors and latency percentiles over a sliding window, read from the
//! `http.server.request.duration` histogram that `otelwright_http::HttpServerLayer` records — not from a timer
//! of its own.
//!
//! How: a second metric reader on the service's `SdkMeterProvider` (an SDK `PeriodicReader`, installed by
//! [`crate::HealthReaders::install`]) collects every `step` (default 5 s) with delta temporality for histograms
//! ("low memory" temporality) and hands each collection to this module. Every collection's buckets, summed over
//! all attribute sets (methods, routes, status codes), become one step of a ring; steps older than `window`
//! (default 60 s) fall out. The JSON snapshot merges the steps still in the window and estimates p50/p95/p99
//! from the merged buckets by linear interpolation inside the bucket that holds the rank.
//!
//! So the `requests` block describes the collections that ended within the last `window`: between
//! `window − step` and `window` of traffic, as of the latest collection (at most one `step` old). Its figures
//! are bucket estimates: with the semconv boundaries (5, 10, 25, 50, 75, 100, 250 ms, ...) a p99 of 62 ms means
//! "in (50, 75] ms, interpolated". Requests count as errors when their data point carries `error.type` (the
//! layer sets it on 5xx and on failures). Explicit-bucket and base-2 exponential histograms are both read.

pub(crate) mod dist;
mod exporter;

pub(crate) use exporter::WindowExporter;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dist::Dist;
use serde::{Deserialize, Serialize};

/// The histogram the window reads by default.
pub const HTTP_SERVER_DURATION: &str = otelwright_core::metric::http::SERVER_REQUEST_DURATION;

/// The default window length.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// The default collection step.
pub const DEFAULT_STEP: Duration = Duration::from_secs(5);

/// One collection's worth of requests.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub(crate) at: Instant,
    pub(crate) count: u64,
    pub(crate) errors: u64,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
    /// Buckets, `min` and `max` are in the instrument's unit; `to_ms` converts the estimates.
    pub(crate) dist: Option<Dist>,
    pub(crate) to_ms: f64,
}

impl Step {
    fn merge(&mut self, other: &Step) -> bool {
        match (&mut self.dist, &other.dist) {
            (_, None) => {}
            (None, Some(d)) => {
                self.dist = Some(d.clone());
                self.to_ms = other.to_ms;
            }
            (Some(mine), Some(d)) => {
                if self.to_ms != other.to_ms || !mine.merge(d) {
                    return false;
                }
            }
        }
        self.count += other.count;
        self.errors += other.errors;
        self.min = merge_opt(self.min, other.min, f64::min);
        self.max = merge_opt(self.max, other.max, f64::max);
        true
    }
}

fn merge_opt(a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (a, b) => a.or(b),
    }
}

#[derive(Debug, Default)]
struct Ring {
    steps: VecDeque<Step>,
    total_count: u64,
    total_errors: u64,
    collections: u64,
    last_collection: Option<Instant>,
    mismatch_logged: bool,
}

#[derive(Debug)]
pub(crate) struct Shared {
    metric: String,
    window: Duration,
    step: Duration,
    ring: Mutex<Ring>,
}

impl Shared {
    /// Stores one collection (called from the reader's thread).
    pub(crate) fn push(&self, step: Option<Step>, now: Instant) {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.collections += 1;
        ring.last_collection = Some(now);
        if let Some(step) = step {
            ring.total_count += step.count;
            ring.total_errors += step.errors;
            ring.steps.push_back(step);
        }
        let horizon = now.checked_sub(self.window);
        while ring.steps.front().is_some_and(|s| horizon.is_some_and(|h| s.at < h)) {
            ring.steps.pop_front();
        }
    }

    pub(crate) fn metric(&self) -> &str {
        &self.metric
    }
}

/// Request figures over a sliding window, fed by a metric reader on the same `SdkMeterProvider` as the
/// `HttpServerLayer`. Cheap to clone; [`crate::HealthReaders`] creates one and installs its reader.
///
/// ```
/// use std::time::Duration;
/// let window = otelwright_health::RequestWindow::new(Duration::from_secs(60), Duration::from_secs(5));
/// let stats = window.stats();
/// assert_eq!((stats.figures.count, stats.figures.p99_ms), (0, None)); // no collection yet: no estimate, not a zero
/// ```
#[derive(Debug, Clone)]
pub struct RequestWindow {
    shared: Arc<Shared>,
}

impl Default for RequestWindow {
    fn default() -> Self {
        RequestWindow::new(DEFAULT_WINDOW, DEFAULT_STEP)
    }
}

impl RequestWindow {
    /// A window of `window` collected every `step` (both at least 1 ms; `step` at most `window`).
    pub fn new(window: Duration, step: Duration) -> Self {
        let window = window.max(Duration::from_millis(1));
        let step = step.clamp(Duration::from_millis(1), window);
        RequestWindow {
            shared: Arc::new(Shared {
                metric: HTTP_SERVER_DURATION.to_owned(),
                window,
                step,
                ring: Mutex::new(Ring::default()),
            }),
        }
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        self.shared.window
    }

    /// The collection step.
    pub fn step(&self) -> Duration {
        self.shared.step
    }

    /// The exporter to put behind a `PeriodicReader` with interval [`RequestWindow::step`].
    pub(crate) fn exporter(&self) -> WindowExporter {
        WindowExporter::new(self.shared.clone())
    }

    /// The figures of the steps still inside the window, now.
    pub fn stats(&self) -> RequestStats {
        self.stats_at(Instant::now())
    }

    fn stats_at(&self, now: Instant) -> RequestStats {
        let ring = self.shared.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let horizon = now.checked_sub(self.shared.window);
        let mut merged: Option<Step> = None;
        let mut skipped = false;
        // Newest first, so a change of bucket layout keeps the newest steps.
        for step in ring.steps.iter().rev().filter(|s| horizon.is_none_or(|h| s.at >= h)) {
            match &mut merged {
                None => merged = Some(step.clone()),
                Some(m) => skipped |= !m.merge(step),
            }
        }
        let collections = ring.collections;
        let last_collection_age = ring.last_collection.map(|t| now.saturating_duration_since(t));
        let (total_count, total_errors) = (ring.total_count, ring.total_errors);
        drop(ring);
        if skipped {
            self.log_mismatch();
        }
        let q = |q: f64| {
            let m = merged.as_ref()?;
            m.dist.as_ref()?.quantile(q, m.min, m.max).map(|v| v * m.to_ms)
        };
        RequestStats {
            window: self.shared.window,
            collections,
            last_collection_age,
            figures: RequestFigures {
                count: merged.as_ref().map_or(0, |m| m.count),
                errors: merged.as_ref().map_or(0, |m| m.errors),
                p50_ms: q(0.5),
                p95_ms: q(0.95),
                p99_ms: q(0.99),
                total_count,
                total_errors,
            },
        }
    }

    fn log_mismatch(&self) {
        let mut ring = self.shared.ring.lock().unwrap_or_else(PoisonError::into_inner);
        if !std::mem::replace(&mut ring.mismatch_logged, true) {
            tracing::warn!(
                metric = %self.shared.metric,
                "the histogram's buckets changed inside the request window; older steps are left out of the percentiles"
            );
        }
    }

    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }
}

/// What [`RequestWindow::stats`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestStats {
    /// The configured window.
    pub window: Duration,
    /// Collections the reader delivered so far (0: the reader is not installed, has not run yet, or the
    /// provider has no instrument at all).
    pub collections: u64,
    /// Time since the latest collection.
    pub last_collection_age: Option<Duration>,
    /// The requests in the window and since the reader started.
    pub figures: RequestFigures,
}

/// The service's requests in the window and since the reader started: what [`RequestStats`] and the document's
/// `requests` block (with the percentiles rounded) both carry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RequestFigures {
    /// Requests in the window.
    pub count: u64,
    /// Of which errors: requests whose data point carries `error.type` (the layer sets it on 5xx and failures).
    pub errors: u64,
    /// Median duration in the window, milliseconds; `None` (`null`) without requests.
    pub p50_ms: Option<f64>,
    /// 95th percentile, as `p50_ms`.
    pub p95_ms: Option<f64>,
    /// 99th percentile, as `p50_ms`.
    pub p99_ms: Option<f64>,
    /// Requests since the reader started.
    pub total_count: u64,
    /// Errors since the reader started.
    pub total_errors: u64,
}

#[cfg(test)]
mod tests;
