//! [`OtlpLogProcessor`]: the SDK's `LogProcessor` for OTLP over gRPC and HTTP/protobuf. The SDK lends each record
//! to `emit` (the stock batch processor clones and boxes it there); this one encodes it right away with
//! [`LogEncoder::encode_record`], on the emitting thread, and queues the bytes. The worker frames batches of them.
//!
//! The record's event time is set here when the appender left it unset: `tracing` events carry none, and the
//! OTLP data model asks for it (`logs/data-model.md`, "Timestamp": "Time when the event occurred"; the
//! `ObservedTimestamp` is when it was seen, here the same moment).

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry::logs::LogRecord as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord};

use super::batch::{Batcher, Encode};
use super::transport::Transport;
use super::{AttributeLimits, EncodedLogRecord, LogEncoder};
use crate::config::BatchSettings;
use crate::selfobs::Counters;

/// The worker's side: frames batches of encoded records into requests.
impl Encode for LogEncoder {
    type Item = EncodedLogRecord;

    fn encode(&mut self, items: &[EncodedLogRecord], out: &mut Vec<u8>) {
        self.frame(items, out);
    }

    fn set_resource(&mut self, resource: &Resource) {
        LogEncoder::set_resource(self, resource);
    }
}

/// Encodes, batches and sends log records; see the module docs.
pub(crate) struct OtlpLogProcessor {
    batcher: Batcher<EncodedLogRecord>,
    /// Encodes records in `emit` (shared by the emitting threads).
    encoder: LogEncoder,
}

impl std::fmt::Debug for OtlpLogProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpLogProcessor").field("batcher", &self.batcher).finish_non_exhaustive()
    }
}

impl OtlpLogProcessor {
    /// Starts the worker thread. `resource` is the provider's (it is set again when the provider is built).
    pub(crate) fn new(
        transport: Transport,
        runtime: tokio::runtime::Handle,
        settings: &BatchSettings,
        counters: Arc<Counters>,
        resource: &Resource,
        limits: AttributeLimits,
    ) -> std::io::Result<Self> {
        let encoder = LogEncoder::new(resource, limits);
        let batcher = Batcher::start("otelwright-logs", encoder.clone(), transport, runtime, settings, counters)?;
        Ok(OtlpLogProcessor { batcher, encoder })
    }
}

impl LogProcessor for OtlpLogProcessor {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        if !self.batcher.reserve() {
            return;
        }
        if record.timestamp().is_none() {
            // The SDK's logger sets the observed time just before `emit`.
            record.set_timestamp(record.observed_timestamp().unwrap_or_else(opentelemetry::time::now));
        }
        self.batcher.push_reserved(self.encoder.encode_record(record, scope));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.batcher.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.batcher.shutdown(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.encoder.set_resource(resource);
        self.batcher.set_resource(resource);
    }
}
