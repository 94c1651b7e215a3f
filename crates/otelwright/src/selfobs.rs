//! Self-observability: what left, what was dropped and what failed, per signal, exported as
//! `otelwright.exporter.items {otel.signal, outcome}` and readable through [`crate::Telemetry::export_stats`].
//!
//! otelwright's own processors (`export`) count into the same [`Counters`]: admission by [`Occupancy`], and each
//! request's items as exported or failed when it ends. For the SDK's batch processors (HTTP/JSON, console), which
//! drop silently when their queue is full and do not expose the count, each gets an admission wrapper in front: it
//! tracks how many items are queued or being exported (+1 when admitted, -n when an export of n items returns) and
//! drops (and counts) an item when that reaches the queue's capacity, before the SDK's own queue could drop it
//! unseen. Exporter wrappers count the items of each export that succeeded (`exported`) or returned an error after
//! the exporter's own retries (`failed`). Warnings about drops, and about failures of our own exports, are logged
//! at most once a minute each.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, LogProcessor, SdkLogRecord};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

use crate::config::Signal;

/// Item counts of one signal since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignalCounts {
    /// Items the collector accepted.
    pub exported: u64,
    /// Items dropped before export because the queue was full.
    pub dropped: u64,
    /// Items in exports that failed after the exporter's retries (unreachable, timed out, rejected).
    pub failed: u64,
}

/// Counts of all three signals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Spans.
    pub traces: SignalCounts,
    /// Metric data points.
    pub metrics: SignalCounts,
    /// Log records.
    pub logs: SignalCounts,
}

/// The counters of one signal.
#[derive(Debug)]
pub(crate) struct Counters {
    signal: Signal,
    exported: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    /// Seconds since `start` of the last drop warning, plus one (0 = never warned).
    warned_at: AtomicU64,
    /// The same for the last export failure warning.
    failure_warned_at: AtomicU64,
    start: Instant,
}

impl Counters {
    pub(crate) fn new(signal: Signal) -> Self {
        Counters {
            signal,
            exported: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            warned_at: AtomicU64::new(0),
            failure_warned_at: AtomicU64::new(0),
            start: Instant::now(),
        }
    }

    pub(crate) fn counts(&self) -> SignalCounts {
        SignalCounts {
            exported: self.exported.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn record(&self, items: usize, exported: bool) {
        let counter = if exported { &self.exported } else { &self.failed };
        counter.fetch_add(items as u64, Ordering::Relaxed);
    }

    /// True at most once a minute per `slot`: the caller may log.
    fn may_warn(&self, slot: &AtomicU64) -> bool {
        let now = self.start.elapsed().as_secs() + 1;
        let last = slot.load(Ordering::Relaxed);
        (last == 0 || now >= last + 60)
            && slot.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    /// An export of otelwright's own pipeline failed after its retries: say why, at most once a minute (the SDK's
    /// processors log their exporters' failures themselves).
    pub(crate) fn warn_failure(&self, items: usize, reason: &str) {
        if self.may_warn(&self.failure_warned_at) {
            tracing::warn!(
                otel.signal = self.signal.as_str(),
                items,
                failed_total = self.failed.load(Ordering::Relaxed),
                reason,
                "telemetry export failed: the items are lost (the collector is unreachable or refused them)"
            );
        }
    }

    pub(crate) fn drop_one(&self) {
        let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if self.may_warn(&self.warned_at) {
            tracing::warn!(
                otel.signal = self.signal.as_str(),
                dropped_total = total,
                "telemetry export queue is full: items are being dropped (the collector is slow or unreachable)"
            );
        }
    }
}

/// Per-signal counters shared by a pipeline's wrappers.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    pub(crate) traces: Arc<Counters>,
    pub(crate) metrics: Arc<Counters>,
    pub(crate) logs: Arc<Counters>,
}

impl Stats {
    pub(crate) fn new() -> Self {
        Stats {
            traces: Arc::new(Counters::new(Signal::Traces)),
            metrics: Arc::new(Counters::new(Signal::Metrics)),
            logs: Arc::new(Counters::new(Signal::Logs)),
        }
    }

    pub(crate) fn snapshot(&self) -> ExportStats {
        ExportStats { traces: self.traces.counts(), metrics: self.metrics.counts(), logs: self.logs.counts() }
    }

    /// Registers `otelwright.exporter.items` (an observable counter read at collection time).
    pub(crate) fn register(&self, provider: &opentelemetry_sdk::metrics::SdkMeterProvider) {
        use opentelemetry::metrics::MeterProvider as _;
        let stats = self.clone();
        let _counter = provider
            .meter("otelwright")
            .u64_observable_counter(otelwright_core::metric::exporter::ITEMS)
            .with_unit("{item}")
            .with_description("Telemetry items by outcome: exported, dropped (queue full) or failed (export error).")
            .with_callback(move |observer| {
                for counters in [&stats.traces, &stats.metrics, &stats.logs] {
                    let c = counters.counts();
                    let signal = KeyValue::new("otel.signal", counters.signal.as_str());
                    for (outcome, value) in [("exported", c.exported), ("dropped", c.dropped), ("failed", c.failed)] {
                        observer.observe(value, &[signal.clone(), KeyValue::new("outcome", outcome)]);
                    }
                }
            })
            .build();
    }
}

/// Items admitted into one batch processor and not yet through an export.
#[derive(Debug, Default)]
pub(crate) struct Occupancy(AtomicUsize);

impl Occupancy {
    pub(crate) fn admit(&self, capacity: usize) -> bool {
        let before = self.0.fetch_add(1, Ordering::AcqRel);
        if before >= capacity {
            self.0.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    pub(crate) fn release(&self, items: usize) {
        // Never below zero, even if an export reports more than was admitted.
        let _ = self.0.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| Some(n.saturating_sub(items)));
    }
}

/// Counts a span exporter's outcomes and releases the admission slots of each batch.
#[derive(Debug)]
pub(crate) struct CountingSpanExporter<E> {
    inner: E,
    counters: Arc<Counters>,
    occupancy: Arc<Occupancy>,
}

impl<E: SpanExporter> SpanExporter for CountingSpanExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let items = batch.len();
        let result = self.inner.export(batch).await;
        self.counters.record(items, result.is_ok());
        self.occupancy.release(items);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Drops (and counts) spans when the batch processor behind it is full.
#[derive(Debug)]
pub(crate) struct AdmissionSpanProcessor<P> {
    inner: P,
    counters: Arc<Counters>,
    occupancy: Arc<Occupancy>,
    capacity: usize,
}

impl<P: SpanProcessor> SpanProcessor for AdmissionSpanProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        if self.occupancy.admit(self.capacity) {
            self.inner.on_end(span);
        } else {
            self.counters.drop_one();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Wraps a span exporter and builds the admission processor around the batch processor that will drive it.
pub(crate) fn span_pipeline<E: SpanExporter + 'static>(
    exporter: E,
    counters: &Arc<Counters>,
    capacity: usize,
    batch: impl FnOnce(CountingSpanExporter<E>) -> opentelemetry_sdk::trace::BatchSpanProcessor,
) -> AdmissionSpanProcessor<opentelemetry_sdk::trace::BatchSpanProcessor> {
    let occupancy = Arc::new(Occupancy::default());
    let exporter = CountingSpanExporter { inner: exporter, counters: counters.clone(), occupancy: occupancy.clone() };
    AdmissionSpanProcessor { inner: batch(exporter), counters: counters.clone(), occupancy, capacity }
}

/// Counts a log exporter's outcomes and releases admission slots.
#[derive(Debug)]
pub(crate) struct CountingLogExporter<E> {
    inner: E,
    counters: Arc<Counters>,
    occupancy: Arc<Occupancy>,
}

impl<E: LogExporter> LogExporter for CountingLogExporter<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let items = batch.iter().count();
        let result = self.inner.export(batch).await;
        self.counters.record(items, result.is_ok());
        self.occupancy.release(items);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Drops (and counts) log records when the batch processor behind it is full.
#[derive(Debug)]
pub(crate) struct AdmissionLogProcessor<P> {
    inner: P,
    counters: Arc<Counters>,
    occupancy: Arc<Occupancy>,
    capacity: usize,
}

impl<P: LogProcessor> LogProcessor for AdmissionLogProcessor<P> {
    fn emit(&self, record: &mut SdkLogRecord, scope: &opentelemetry::InstrumentationScope) {
        if self.occupancy.admit(self.capacity) {
            // The SDK's exporters (HTTP/JSON, console) export the record as it is; give it what otelwright's own
            // encoder writes (`export/encode/logs.rs`): the event time, and no synthetic tracing event name.
            if record.timestamp().is_none()
                && let Some(observed) = record.observed_timestamp()
            {
                opentelemetry::logs::LogRecord::set_timestamp(record, observed);
            }
            if record.event_name().is_some_and(|name| crate::export::encode::user_event_name(name).is_none()) {
                // The SDK record cannot unset its event name; the empty string is proto3's default, which is what
                // an unset `event_name` is on the wire.
                opentelemetry::logs::LogRecord::set_event_name(record, "");
            }
            self.inner.emit(record, scope);
        } else {
            self.counters.drop_one();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Wraps a log exporter and builds the admission processor around its batch processor.
pub(crate) fn log_pipeline<E: LogExporter + 'static>(
    exporter: E,
    counters: &Arc<Counters>,
    capacity: usize,
    batch: impl FnOnce(CountingLogExporter<E>) -> opentelemetry_sdk::logs::BatchLogProcessor,
) -> AdmissionLogProcessor<opentelemetry_sdk::logs::BatchLogProcessor> {
    let occupancy = Arc::new(Occupancy::default());
    let exporter = CountingLogExporter { inner: exporter, counters: counters.clone(), occupancy: occupancy.clone() };
    AdmissionLogProcessor { inner: batch(exporter), counters: counters.clone(), occupancy, capacity }
}

/// Counts the data points of each metric export.
#[derive(Debug)]
pub(crate) struct CountingMetricExporter<E> {
    pub(crate) inner: E,
    pub(crate) counters: Arc<Counters>,
}

fn points<T>(data: &MetricData<T>) -> usize {
    match data {
        MetricData::Gauge(g) => g.data_points().count(),
        MetricData::Sum(s) => s.data_points().count(),
        MetricData::Histogram(h) => h.data_points().count(),
        MetricData::ExponentialHistogram(h) => h.data_points().count(),
    }
}

/// Data points in one export.
pub(crate) fn count_points(metrics: &ResourceMetrics) -> usize {
    metrics
        .scope_metrics()
        .flat_map(|scope| scope.metrics())
        .map(|m| match m.data() {
            AggregatedMetrics::F64(d) => points(d),
            AggregatedMetrics::U64(d) => points(d),
            AggregatedMetrics::I64(d) => points(d),
        })
        .sum()
}

impl<E: PushMetricExporter> PushMetricExporter for CountingMetricExporter<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let items = count_points(metrics);
        let result = self.inner.export(metrics).await;
        self.counters.record(items, result.is_ok());
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> opentelemetry_sdk::metrics::Temporality {
        self.inner.temporality()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_stops_at_capacity_and_frees_on_release() {
        let o = Occupancy::default();
        assert!(o.admit(2) && o.admit(2));
        assert!(!o.admit(2), "full");
        o.release(1);
        assert!(o.admit(2));
        o.release(10);
        assert_eq!(o.0.load(Ordering::Relaxed), 0, "never below zero");
    }

    #[test]
    fn counters_split_by_outcome() {
        let c = Counters::new(Signal::Logs);
        c.record(3, true);
        c.record(2, false);
        c.drop_one();
        c.drop_one();
        assert_eq!(c.counts(), SignalCounts { exported: 3, dropped: 2, failed: 2 });
    }
}
