//! [`WindowExporter`]: the push exporter behind the window's `PeriodicReader`. Each collection it is handed
//! becomes one [`Step`]: the data points of the window's histogram, summed over every attribute set.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::{
    AggregatedMetrics, ExponentialHistogramDataPoint, HistogramDataPoint, MetricData, ResourceMetrics,
};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;

use super::dist::Dist;
use super::{Shared, Step};

/// The attribute that marks a failed request (HTTP semconv).
const ERROR_TYPE: &str = "error.type";

/// Feeds a [`super::RequestWindow`]. Created by [`crate::HealthReaders`]; not constructible elsewhere.
#[derive(Debug)]
pub(crate) struct WindowExporter {
    shared: Arc<Shared>,
}

impl WindowExporter {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        WindowExporter { shared }
    }

    fn step(&self, metrics: &ResourceMetrics, now: Instant) -> Option<Step> {
        let mut step: Option<Step> = None;
        let wanted = self.shared.metric();
        for metric in metrics.scope_metrics().flat_map(|s| s.metrics()).filter(|m| m.name() == wanted) {
            let to_ms = match metric.unit() {
                "ms" => 1.0,
                "us" => 1e-3,
                "ns" => 1e-6,
                _ => 1e3, // "s", the semconv unit
            };
            let mut add = |part: Step| match &mut step {
                None => step = Some(part),
                Some(s) => {
                    s.merge(&part);
                }
            };
            match metric.data() {
                AggregatedMetrics::F64(data) => points(data, to_ms, now, |v| v, &mut add),
                AggregatedMetrics::U64(data) => points(data, to_ms, now, |v| v as f64, &mut add),
                AggregatedMetrics::I64(data) => points(data, to_ms, now, |v| v as f64, &mut add),
            }
        }
        step
    }
}

fn points<T: Copy>(data: &MetricData<T>, to_ms: f64, at: Instant, f: fn(T) -> f64, add: &mut impl FnMut(Step)) {
    match data {
        MetricData::Histogram(h) => h.data_points().for_each(|p| add(explicit(p, to_ms, at, f))),
        MetricData::ExponentialHistogram(h) => h.data_points().for_each(|p| add(exponential(p, to_ms, at, f))),
        MetricData::Gauge(_) | MetricData::Sum(_) => {}
    }
}

fn is_error(mut attributes: impl Iterator<Item = impl std::borrow::Borrow<opentelemetry::KeyValue>>) -> bool {
    attributes.any(|kv| kv.borrow().key.as_str() == ERROR_TYPE)
}

fn explicit<T: Copy>(p: &HistogramDataPoint<T>, to_ms: f64, at: Instant, f: fn(T) -> f64) -> Step {
    let dist = Dist::Explicit { bounds: p.bounds().collect(), counts: p.bucket_counts().collect() };
    let count = p.count();
    Step {
        at,
        count,
        errors: if is_error(p.attributes()) { count } else { 0 },
        min: p.min().map(f),
        max: p.max().map(f),
        dist: Some(dist),
        to_ms,
    }
}

fn exponential<T: Copy>(p: &ExponentialHistogramDataPoint<T>, to_ms: f64, at: Instant, f: fn(T) -> f64) -> Step {
    let positive = p.positive_bucket();
    let counts: BTreeMap<i32, u64> = (positive.offset()..).zip(positive.counts()).filter(|&(_, n)| n > 0).collect();
    let count = p.count() as u64;
    Step {
        at,
        count,
        errors: if is_error(p.attributes()) { count } else { 0 },
        min: p.min().map(f),
        max: p.max().map(f),
        dist: Some(Dist::Exponential { scale: p.scale(), zero: p.zero_count(), counts }),
        to_ms,
    }
}

impl PushMetricExporter for WindowExporter {
    fn export(&self, metrics: &ResourceMetrics) -> impl Future<Output = OTelSdkResult> + Send {
        let now = Instant::now();
        self.shared.push(self.step(metrics, now), now);
        std::future::ready(Ok(()))
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    /// Delta for histograms (each collection is one step), cumulative for the observable instruments this
    /// exporter ignores (so the SDK keeps no delta state for them).
    fn temporality(&self) -> Temporality {
        Temporality::LowMemory
    }
}
