//! The types of [`super::Config`]'s settings (exporters, propagators, sampler, temporality, batch settings,
//! limits, log format, span details, meter hooks), each with its spec default and, where a setting has several
//! variables, the code that reads them.

use std::time::Duration;

use super::env::Env;

/// Where a signal goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exporter {
    /// OTLP over the configured protocol.
    Otlp,
    /// Human-readable output on stdout, for development.
    Console,
}

/// A context propagator named in `OTEL_PROPAGATORS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagator {
    /// W3C Trace Context (`traceparent`, `tracestate`).
    TraceContext,
    /// W3C Baggage (`baggage`).
    Baggage,
}

/// The sampler, from `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampler {
    /// Sample everything.
    AlwaysOn,
    /// Sample nothing.
    AlwaysOff,
    /// Sample this fraction of traces by trace id.
    TraceIdRatio(f64),
    /// Follow the parent's decision; roots use the inner sampler.
    ParentBased(ParentRoot),
}

/// The root sampler of [`Sampler::ParentBased`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParentRoot {
    /// Roots are sampled.
    AlwaysOn,
    /// Roots are not sampled.
    AlwaysOff,
    /// Roots are sampled by this ratio.
    TraceIdRatio(f64),
}

/// Metric temporality preference (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Temporality {
    /// Everything cumulative (what Prometheus needs).
    #[default]
    Cumulative,
    /// Counters and histograms delta, up-down counters cumulative.
    Delta,
    /// Synchronous counters and histograms delta, the rest cumulative.
    LowMemory,
}

/// Default histogram aggregation (`OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HistogramAggregation {
    /// Explicit buckets (instrument advice, else the SDK defaults).
    #[default]
    ExplicitBucket,
    /// Base-2 exponential buckets.
    Base2Exponential,
}

/// How log lines are written to stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Pretty when stdout is a terminal, JSON otherwise.
    #[default]
    Auto,
    /// One JSON object per line with `trace_id`, `span_id` and span fields.
    Json,
    /// Human-readable, coloured when stdout is a terminal.
    Pretty,
    /// No stdout output (OTLP log export is unaffected).
    Off,
}

/// Batch processor settings (`OTEL_BSP_*`, `OTEL_BLRP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSettings {
    /// Delay between two exports.
    pub schedule_delay: Duration,
    /// Limit of one export: the exporter's timeout is capped to it (the SDK's processors have none of their own).
    pub export_timeout: Duration,
    /// Items buffered before new ones are dropped.
    pub max_queue_size: usize,
    /// Items per export.
    pub max_export_batch_size: usize,
    /// Export requests in flight at once (OTLP over gRPC and HTTP/protobuf; HTTP/JSON and the console export one
    /// batch at a time).
    pub max_concurrent_exports: usize,
}

impl BatchSettings {
    /// The spec's defaults for spans (`OTEL_BSP_*`): 5 s delay, 30 s timeout, queue 2048, batch 512; and 2
    /// exports in flight.
    pub fn spans() -> Self {
        BatchSettings {
            schedule_delay: Duration::from_millis(5000),
            export_timeout: Duration::from_millis(30000),
            max_queue_size: 2048,
            max_export_batch_size: 512,
            max_concurrent_exports: 2,
        }
    }

    /// The spec's defaults for log records (`OTEL_BLRP_*`): as for spans but with a 1 s delay.
    pub fn logs() -> Self {
        BatchSettings { schedule_delay: Duration::from_millis(1000), ..BatchSettings::spans() }
    }

    pub(super) fn read(mut self, env: &mut Env<'_>, prefix: &str) -> Self {
        if let Some(d) = env.millis(&format!("{prefix}_SCHEDULE_DELAY")) {
            self.schedule_delay = d;
        }
        if let Some(d) = env.timeout(&format!("{prefix}_EXPORT_TIMEOUT")) {
            self.export_timeout = d;
        }
        if let Some(n) = env.count(&format!("{prefix}_MAX_QUEUE_SIZE"), 1 << 24) {
            self.max_queue_size = n as usize;
        }
        let var = format!("{prefix}_MAX_EXPORT_BATCH_SIZE");
        if let Some(n) = env.count(&var, 1 << 24) {
            if n as usize > self.max_queue_size {
                env.warn(&var, &n.to_string(), format!("larger than the queue; using {}", self.max_queue_size));
                self.max_export_batch_size = self.max_queue_size;
            } else {
                self.max_export_batch_size = n as usize;
            }
        }
        self.max_export_batch_size = self.max_export_batch_size.min(self.max_queue_size);
        // Not in the spec: the Rust SDK's variable (for spans only; its thread processor ignores it). No OTEL_BLRP_
        // counterpart exists, so log records keep the default unless set in code.
        if prefix == "OTEL_BSP"
            && let Some(n) = env.count("OTEL_BSP_MAX_CONCURRENT_EXPORTS", MAX_CONCURRENT_EXPORTS)
        {
            self.max_concurrent_exports = n as usize;
        }
        self
    }
}

/// The most export requests allowed in flight at once.
const MAX_CONCURRENT_EXPORTS: u64 = 64;

/// Span and log-record limits (`OTEL_ATTRIBUTE_*`, `OTEL_SPAN_*`, `OTEL_EVENT_*`, `OTEL_LINK_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Attributes per span.
    pub span_attribute_count: u32,
    /// Events per span.
    pub span_event_count: u32,
    /// Links per span.
    pub span_link_count: u32,
    /// Attributes per span event.
    pub event_attribute_count: u32,
    /// Attributes per span link.
    pub link_attribute_count: u32,
    /// Longest string attribute value on spans and their events, in characters (`None`: no limit).
    pub span_attribute_value_length: Option<usize>,
    /// Attributes per log record (OTLP over gRPC and HTTP/protobuf).
    pub log_record_attribute_count: u32,
    /// Longest attribute value on log records, in characters (`None`: no limit; OTLP over gRPC and HTTP/protobuf).
    pub log_record_attribute_value_length: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            span_attribute_count: 128,
            span_event_count: 128,
            span_link_count: 128,
            event_attribute_count: 128,
            link_attribute_count: 128,
            span_attribute_value_length: None,
            log_record_attribute_count: 128,
            log_record_attribute_value_length: None,
        }
    }
}

const MAX_LIMIT: u64 = 1 << 20;

impl Limits {
    pub(super) fn read(env: &mut Env<'_>) -> Self {
        let mut l = Limits::default();
        // Spec `configuration/sdk-environment-variables.md`, "Attribute Limits": the general limits apply to every
        // signal's attributes unless a model-specific one is set.
        let general = env.count("OTEL_ATTRIBUTE_COUNT_LIMIT", MAX_LIMIT).map(|n| n as u32);
        if let Some(n) = general {
            (l.span_attribute_count, l.event_attribute_count, l.link_attribute_count) = (n, n, n);
            l.log_record_attribute_count = n;
        }
        let mut set = |var: &str, field: &mut u32| {
            if let Some(n) = env.count(var, MAX_LIMIT) {
                *field = n as u32;
            }
        };
        set("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", &mut l.span_attribute_count);
        set("OTEL_SPAN_EVENT_COUNT_LIMIT", &mut l.span_event_count);
        set("OTEL_SPAN_LINK_COUNT_LIMIT", &mut l.span_link_count);
        set("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", &mut l.event_attribute_count);
        set("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", &mut l.link_attribute_count);
        set("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", &mut l.log_record_attribute_count);
        let general = env.count("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", MAX_LIMIT).map(|n| n as usize);
        let span = env.count("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", MAX_LIMIT).map(|n| n as usize);
        let log = env.count("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", MAX_LIMIT).map(|n| n as usize);
        l.span_attribute_value_length = span.or(general);
        l.log_record_attribute_value_length = log.or(general);
        l
    }
}

/// What tracing-opentelemetry adds to each span it makes from a `tracing` span. All off by default: each is
/// work on every span (and `thread.name` an allocation), and again bytes at export; the span name and fields say
/// what ran. Switched on with the `OTELWRIGHT_SPAN_*` variables or the `Config::span_*` methods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SpanDetails {
    /// `code.file.path`, `code.module.name` and `code.line.number` (`OTELWRIGHT_SPAN_LOCATION`).
    pub(crate) location: bool,
    /// `thread.id` and `thread.name` (`OTELWRIGHT_SPAN_THREAD`).
    pub(crate) thread: bool,
    /// `target`, the `tracing` target (`OTELWRIGHT_SPAN_TARGET`).
    pub(crate) target: bool,
    /// `busy_ns` and `idle_ns`, two clock reads per poll (`OTELWRIGHT_SPAN_INACTIVITY`).
    pub(crate) inactivity: bool,
}

impl SpanDetails {
    pub(super) fn read(env: &mut Env<'_>) -> Self {
        let mut on = |name: &str| env.bool(name).unwrap_or(false);
        SpanDetails {
            location: on("OTELWRIGHT_SPAN_LOCATION"),
            thread: on("OTELWRIGHT_SPAN_THREAD"),
            target: on("OTELWRIGHT_SPAN_TARGET"),
            inactivity: on("OTELWRIGHT_SPAN_INACTIVITY"),
        }
    }
}

/// A function that adds to the meter provider before it is built (readers, views), e.g.
/// `otelwright_health::HealthReaders::install` for the Prometheus endpoint and the JSON snapshot's percentiles.
#[derive(Clone)]
pub(crate) struct MeterHook(
    pub(crate)  std::sync::Arc<
        dyn Fn(opentelemetry_sdk::metrics::MeterProviderBuilder) -> opentelemetry_sdk::metrics::MeterProviderBuilder
            + Send
            + Sync,
    >,
);

impl std::fmt::Debug for MeterHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MeterHook")
    }
}

/// A secret setting: its `Debug` output never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}
