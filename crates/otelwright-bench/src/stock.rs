//! The `stock` mode of `bench overhead`: the bench service instrumented the way a careful user without otelwright
//! would do it, from the OpenTelemetry projects' own crates and examples. It is the peer otelwright is measured
//! against, so it is set up faithfully and with nothing of ours in the request path:
//!
//! - HTTP server spans and metrics: the contrib `opentelemetry-instrumentation-tower` layer (0.19, built on
//!   opentelemetry 0.33), which reads the global providers and the global propagator (W3C trace context here);
//! - user `tracing` spans: `tracing_opentelemetry::layer()` with its defaults (location, thread, target and
//!   inactivity tracking on, events inside spans become span events);
//! - log lines: `opentelemetry-appender-tracing`'s `OpenTelemetryTracingBridge`;
//! - the SDK's `BatchSpanProcessor`, `BatchLogProcessor` and `PeriodicReader` with default settings, and
//!   `opentelemetry-otlp`'s tonic exporters (OTLP/gRPC) to the same endpoint the other modes use;
//! - the `EnvFilter` of opentelemetry-rust's examples ([`FILTER`]), so the exporter's own transport events do not
//!   feed back into the log pipeline.
//!
//! The one addition is a pass-through wrapper around the span and log exporters that counts what was exported, so
//! the bench can show that stock exported as much as otelwright did (otelwright counts the same way).
//!
//! Everything stock needs is in this file (and the `[dependencies]` marked "stock" in this crate's Cargo.toml), so
//! the harness can move to its own crate without touching the rest.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{LogExporter, MetricExporter, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, SdkLoggerProvider};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;

/// The filter of the opentelemetry-rust examples: `info`, with the crates the OTLP exporter uses turned off
/// (`opentelemetry-otlp/examples/basic-otlp/src/main.rs`, also `examples/logs-basic`: `EnvFilter::new("info")`
/// plus `hyper=off`, `tonic=off`, `h2=off`, `reqwest=off`; open-telemetry/opentelemetry-rust at 84301ae). Until
/// March 2025 (#2868) the same examples also turned `opentelemetry` off; we keep that, and add `tower` (tonic's
/// channel is built on it) and the SDK and exporter crates, as issue 13 describes the peer. At `info` the
/// additions cost nothing: no event of those crates is enabled either way.
pub(crate) const FILTER: &str = "info,hyper=off,tonic=off,h2=off,reqwest=off,tower=off,opentelemetry=off,\
                                 opentelemetry_sdk=off,opentelemetry_otlp=off";

/// Items exported and failed, counted by the pass-through wrappers.
#[derive(Debug, Default)]
struct Counts {
    exported: AtomicU64,
    failed: AtomicU64,
}

impl Counts {
    fn add(&self, items: usize, result: &OTelSdkResult) {
        let counter = if result.is_ok() { &self.exported } else { &self.failed };
        counter.fetch_add(items as u64, Ordering::Relaxed);
    }

    /// `[exported, dropped, failed]`; the SDK's batch processors do not expose their drops, so that is 0 here
    /// (they log them at shutdown).
    fn get(&self) -> [u64; 3] {
        [self.exported.load(Ordering::Relaxed), 0, self.failed.load(Ordering::Relaxed)]
    }
}

/// The tonic span exporter, counting what it exported.
#[derive(Debug)]
struct CountedSpans(SpanExporter, Arc<Counts>);

impl opentelemetry_sdk::trace::SpanExporter for CountedSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        let result = self.0.export(batch).await;
        self.1.add(n, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

/// The tonic log exporter, counting what it exported.
#[derive(Debug)]
struct CountedLogs(LogExporter, Arc<Counts>);

impl opentelemetry_sdk::logs::LogExporter for CountedLogs {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let n = batch.iter().count();
        let result = self.0.export(batch).await;
        self.1.add(n, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn event_enabled(&self, level: opentelemetry::logs::Severity, target: &str, name: Option<&str>) -> bool {
        self.0.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

/// The stock pipeline of one service process.
pub(crate) struct Stock {
    tracer: SdkTracerProvider,
    meter: SdkMeterProvider,
    logger: SdkLoggerProvider,
    spans: Arc<Counts>,
    logs: Arc<Counts>,
}

impl Stock {
    /// Builds the three providers exporting to `endpoint` (OTLP/gRPC), installs them and the W3C propagator
    /// globally, and installs the `tracing` subscriber. Must run inside a tokio runtime (tonic's channel).
    pub(crate) fn init(endpoint: &str, metric_interval: Duration) -> anyhow::Result<Stock> {
        let resource = Resource::builder().with_service_name("otelwright-bench").build();
        let spans = Arc::new(Counts::default());
        let logs = Arc::new(Counts::default());
        let span_exporter = SpanExporter::builder().with_tonic().with_endpoint(endpoint).build()?;
        let tracer = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_batch_exporter(CountedSpans(span_exporter, spans.clone()))
            .build();
        let metric_exporter = MetricExporter::builder().with_tonic().with_endpoint(endpoint).build()?;
        let meter = SdkMeterProvider::builder()
            .with_resource(resource.clone())
            .with_reader(PeriodicReader::builder(metric_exporter).with_interval(metric_interval).build())
            .build();
        let log_exporter = LogExporter::builder().with_tonic().with_endpoint(endpoint).build()?;
        let logger = SdkLoggerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(CountedLogs(log_exporter, logs.clone()))
            .build();
        opentelemetry::global::set_tracer_provider(tracer.clone());
        opentelemetry::global::set_meter_provider(meter.clone());
        opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
        let subscriber = tracing_subscriber::registry()
            .with(EnvFilter::try_new(FILTER).context("the stock filter")?)
            .with(tracing_opentelemetry::layer().with_tracer(tracer.tracer("otelwright-bench")))
            .with(OpenTelemetryTracingBridge::new(&logger));
        tracing::subscriber::set_global_default(subscriber).context("installing the stock subscriber")?;
        Ok(Stock { tracer, meter, logger, spans, logs })
    }

    /// The contrib HTTP server layer (spans and metrics), on the global providers [`Stock::init`] installed.
    pub(crate) fn http_layer() -> opentelemetry_instrumentation_tower::http::server::Layer {
        opentelemetry_instrumentation_tower::http::server::Layer::new()
    }

    /// Spans and log records `[exported, dropped, failed]` so far.
    pub(crate) fn counts(&self) -> ([u64; 3], [u64; 3]) {
        (self.spans.get(), self.logs.get())
    }

    /// Flushes and shuts the three providers down.
    pub(crate) fn shutdown(self) {
        let _ = self.tracer.shutdown();
        let _ = self.logger.shutdown();
        let _ = self.meter.shutdown();
    }
}
