//! How much memory one queued span and one queued log record take, measured rather than guessed: the batch
//! processors queue `SpanData` and `SdkLogRecord` values, so this keeps many of them (with the attributes of an
//! HTTP server span and of a service's log line) in a processor that only stores, and divides the growth of
//! resident memory by their number. `bench memory` uses it to say what the configured queues can hold.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord, SdkLoggerProvider};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use super::procfs;

/// Keeps every ended span and emitted log record.
#[derive(Debug, Default)]
struct Keep {
    spans: Mutex<Vec<SpanData>>,
    logs: Mutex<Vec<SdkLogRecord>>,
}

impl SpanProcessor for &'static Keep {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        self.spans.lock().unwrap_or_else(|e| e.into_inner()).push(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

impl LogProcessor for &'static Keep {
    fn emit(&self, record: &mut SdkLogRecord, _scope: &InstrumentationScope) {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).push(record.clone());
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
}

/// Bytes of resident memory per queued span and per queued log record (`None` without `/proc`).
pub(crate) fn measure(items: usize) -> (Option<u64>, Option<u64>) {
    // Leaked on purpose: the processors need 'static and the measurement must not free what it counts.
    let keep: &'static Keep = Box::leak(Box::default());
    keep.spans.lock().unwrap_or_else(|e| e.into_inner()).reserve(items);
    keep.logs.lock().unwrap_or_else(|e| e.into_inner()).reserve(items);
    let tracer_provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().with_span_processor(keep).build();
    let logger_provider = SdkLoggerProvider::builder().with_log_processor(keep).build();
    let tracer = tracer_provider.tracer("otelwright-bench");
    let logger = logger_provider.logger("otelwright-bench");
    let attributes = super::export::server_span_attributes();
    let per_item = |before: Option<u64>| {
        procfs::rss_bytes(std::process::id()).zip(before).map(|(a, b)| a.saturating_sub(b) / items.max(1) as u64)
    };

    let before = procfs::rss_bytes(std::process::id());
    for _ in 0..items {
        super::export::server_span(&tracer, &attributes);
    }
    let span_bytes = per_item(before);

    let before = procfs::rss_bytes(std::process::id());
    for i in 0..items {
        let mut record = logger.create_log_record();
        record.set_timestamp(SystemTime::now());
        record.set_observed_timestamp(SystemTime::now());
        record.set_severity_number(Severity::Info);
        record.set_severity_text("INFO");
        record.set_target("otelwright_cli::bench::app");
        record.set_event_name("order served");
        record.set_body(AnyValue::from("order served"));
        record.add_attribute("order.id", i as i64);
        record.add_attribute("lines", 5_i64);
        logger.emit(record);
    }
    let log_bytes = per_item(before);
    (span_bytes, log_bytes)
}
