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
use std::time::Instant;

use opentelemetry::{Context, KeyValue};
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

/// The lifecycle methods a wrapper passes unchanged to the exporter or processor it wraps (`self.inner`): one
/// definition for the wrappers here and in `limits.rs`, whose SDK traits each ask for a subset of them.
macro_rules! forward_to_inner {
    ($($method:ident),+ $(,)?) => { $($crate::selfobs::forward_to_inner!(@ $method);)+ };
    (@ force_flush) => {
        fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
            self.inner.force_flush()
        }
    };
    (@ shutdown_with_timeout) => {
        fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> opentelemetry_sdk::error::OTelSdkResult {
            self.inner.shutdown_with_timeout(timeout)
        }
    };
    (@ set_resource) => {
        fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
            self.inner.set_resource(resource);
        }
    };
    (@ temporality) => {
        fn temporality(&self) -> opentelemetry_sdk::metrics::Temporality {
            self.inner.temporality()
        }
    };
}
pub(crate) use forward_to_inner;

/// One SDK batch processor's admission: its occupancy, its queue's capacity and the signal's counters, shared by
/// the admission processor in front of the queue and the counting exporter behind it.
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    counters: Arc<Counters>,
    occupancy: Arc<Occupancy>,
    capacity: usize,
}

impl Gate {
    fn new(counters: &Arc<Counters>, capacity: usize) -> Gate {
        Gate { counters: counters.clone(), occupancy: Arc::default(), capacity }
    }

    /// Takes a slot for one item, or counts the item dropped when the queue is full.
    fn admit(&self) -> bool {
        let admitted = self.occupancy.admit(self.capacity);
        if !admitted {
            self.counters.drop_one();
        }
        admitted
    }

    /// An export of `items` returned: counts them exported or failed and frees their slots.
    fn settle(&self, items: usize, ok: bool) {
        self.counters.record(items, ok);
        self.occupancy.release(items);
    }
}

/// Counts an exporter's outcomes and releases the admission slots of each batch (spans or log records).
#[derive(Debug)]
pub(crate) struct CountingExporter<E> {
    inner: E,
    gate: Gate,
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let items = batch.len();
        let result = self.inner.export(batch).await;
        self.gate.settle(items, result.is_ok());
        result
    }

    forward_to_inner!(shutdown_with_timeout, force_flush, set_resource);
}

impl<E: LogExporter> LogExporter for CountingExporter<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let items = batch.iter().count();
        let result = self.inner.export(batch).await;
        self.gate.settle(items, result.is_ok());
        result
    }

    forward_to_inner!(shutdown_with_timeout, set_resource);
}

/// Drops (and counts) spans or log records when the batch processor behind it is full.
#[derive(Debug)]
pub(crate) struct AdmissionProcessor<P> {
    inner: P,
    gate: Gate,
}

impl<P: SpanProcessor> SpanProcessor for AdmissionProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() && self.gate.admit() {
            self.inner.on_end(span);
        }
    }

    forward_to_inner!(force_flush, shutdown_with_timeout, set_resource);
}

impl<P: LogProcessor> LogProcessor for AdmissionProcessor<P> {
    fn emit(&self, record: &mut SdkLogRecord, scope: &opentelemetry::InstrumentationScope) {
        if self.gate.admit() {
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
        }
    }

    forward_to_inner!(force_flush, shutdown_with_timeout, set_resource);
}

/// Wraps an exporter (spans or log records) and builds the admission processor around the batch processor that
/// `batch` makes to drive it, holding at most `capacity` items.
pub(crate) fn admission_pipeline<E, P>(
    exporter: E,
    counters: &Arc<Counters>,
    capacity: usize,
    batch: impl FnOnce(CountingExporter<E>) -> P,
) -> AdmissionProcessor<P> {
    let gate = Gate::new(counters, capacity);
    AdmissionProcessor { inner: batch(CountingExporter { inner: exporter, gate: gate.clone() }), gate }
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

    forward_to_inner!(force_flush, shutdown_with_timeout, temporality);
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
