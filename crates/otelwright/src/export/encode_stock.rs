//! The stock encoders behind the encoder seam: OTLP protobuf built with opentelemetry-proto's `transform` module and
//! prost, as opentelemetry-otlp 0.33 builds it (a prost struct tree per batch, then `Message::encode`). They fix
//! the interface a hand-written encoder implements: [`TraceEncoder`] encodes a batch of `&SpanData`;
//! [`LogEncoder`] encodes each record where it is emitted ([`LogEncoder::encode_record`], `&self`, on the
//! application's thread) and frames a batch of those ([`LogEncoder::encode`], on the export worker).
//!
//! Limits (spec `common/README.md#attribute-limits`): string and byte-array values longer than
//! [`AttributeLimits::value_length`] are truncated (each element of an array, recursively in log `AnyValue`s); log
//! records keep their first [`AttributeLimits::count`] attributes and count the rest in `dropped_attributes_count`
//! (the SDK applies the span count limits itself, when spans are recorded).

use std::borrow::Cow;

use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as ProtoValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue as ProtoAnyValue, InstrumentationScope as ProtoScope};
use opentelemetry_proto::tonic::logs::v1::LogRecord as ProtoLogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLogRecord;
use opentelemetry_sdk::trace::SpanData;
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint};

use super::AttributeLimits;
use crate::limits::truncate_attributes;

/// Encodes `ExportTraceServiceRequest`s.
pub(crate) struct TraceEncoder {
    resource: ResourceAttributesWithSchema,
    limits: AttributeLimits,
}

impl TraceEncoder {
    pub(crate) fn new(resource: &Resource, limits: AttributeLimits) -> Self {
        TraceEncoder { resource: resource.into(), limits }
    }

    /// Appends the request carrying `spans` to `out`.
    pub(crate) fn encode(&mut self, spans: &[SpanData], out: &mut Vec<u8>) {
        // The transform takes the spans by value: the same deep copy opentelemetry-otlp's gRPC exporter makes.
        let mut spans = spans.to_vec();
        if let Some(max) = self.limits.value_length {
            for span in &mut spans {
                truncate_attributes(&mut span.attributes, max);
                for event in &mut span.events.events {
                    truncate_attributes(&mut event.attributes, max);
                }
                for link in &mut span.links.links {
                    truncate_attributes(&mut link.attributes, max);
                }
            }
        }
        let request =
            ExportTraceServiceRequest { resource_spans: group_spans_by_resource_and_scope(spans, &self.resource) };
        // A Vec grows as needed: encoding into it cannot fail.
        let _ = request.encode(out);
    }
}

/// One log record, encoded where it was emitted, with the scope it is exported under.
#[derive(Debug)]
pub(crate) struct EncodedLogRecord {
    /// The exported scope's name: the record's target (the `tracing` target), else the logger's scope name.
    name: Cow<'static, str>,
    scope: InstrumentationScope,
    /// A `LogRecord` message, without its tag and length.
    record: Vec<u8>,
}

/// Encodes log records one by one and frames batches of them as `ExportLogsServiceRequest`s.
pub(crate) struct LogEncoder {
    /// The `resource` field of `ResourceLogs`, with its tag and length.
    resource: Vec<u8>,
    schema_url: String,
    limits: AttributeLimits,
}

// Field numbers, opentelemetry-proto `collector/logs/v1/logs_service.proto` and `logs/v1/logs.proto`.
const REQUEST_RESOURCE_LOGS: u32 = 1;
const RESOURCE_LOGS_RESOURCE: u32 = 1;
const RESOURCE_LOGS_SCOPE_LOGS: u32 = 2;
const RESOURCE_LOGS_SCHEMA_URL: u32 = 3;
const SCOPE_LOGS_SCOPE: u32 = 1;
const SCOPE_LOGS_LOG_RECORDS: u32 = 2;
const SCOPE_LOGS_SCHEMA_URL: u32 = 3;

fn put_bytes(field: u32, bytes: &[u8], out: &mut Vec<u8>) {
    encode_key(field, WireType::LengthDelimited, out);
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn put_message(field: u32, message: &impl Message, out: &mut Vec<u8>) {
    encode_key(field, WireType::LengthDelimited, out);
    let _ = message.encode_length_delimited(out);
}

impl LogEncoder {
    pub(crate) fn new(resource: &Resource, limits: AttributeLimits) -> Self {
        let with_schema = ResourceAttributesWithSchema::from(resource);
        let proto =
            ProtoResource { attributes: with_schema.attributes.0, dropped_attributes_count: 0, entity_refs: vec![] };
        let mut encoded = Vec::new();
        put_message(RESOURCE_LOGS_RESOURCE, &proto, &mut encoded);
        LogEncoder { resource: encoded, schema_url: with_schema.schema_url.unwrap_or_default(), limits }
    }

    /// Encodes one record (its limits applied) for a later [`LogEncoder::encode`].
    pub(crate) fn encode_record(&self, record: &SdkLogRecord, scope: &InstrumentationScope) -> EncodedLogRecord {
        let mut proto = ProtoLogRecord::from(record);
        let count = self.limits.count;
        if proto.attributes.len() > count {
            proto.dropped_attributes_count = (proto.attributes.len() - count) as u32;
            proto.attributes.truncate(count);
        }
        if let Some(max) = self.limits.value_length {
            for kv in &mut proto.attributes {
                if let Some(value) = &mut kv.value {
                    truncate_any(value, max);
                }
            }
        }
        let name = record.target().cloned().unwrap_or_else(|| Cow::Owned(scope.name().to_owned()));
        EncodedLogRecord { name, scope: scope.clone(), record: proto.encode_to_vec() }
    }

    /// Appends the request carrying `records` to `out`: the resource once, one `ScopeLogs` per exported scope in
    /// order of first appearance.
    pub(crate) fn encode(&mut self, records: &[EncodedLogRecord], out: &mut Vec<u8>) {
        let same_scope = |a: &EncodedLogRecord, b: &EncodedLogRecord| {
            a.name == b.name
                && a.scope.version() == b.scope.version()
                && a.scope.schema_url() == b.scope.schema_url()
                && a.scope.attributes().eq(b.scope.attributes())
        };
        let mut resource_logs = self.resource.clone();
        let mut done = vec![false; records.len()];
        let mut scope_logs = Vec::new();
        for first in 0..records.len() {
            if done[first] {
                continue;
            }
            let head = &records[first];
            scope_logs.clear();
            let scope = ProtoScope {
                name: head.name.to_string(),
                version: head.scope.version().unwrap_or_default().to_owned(),
                attributes: opentelemetry_proto::transform::common::tonic::Attributes::from(
                    head.scope.attributes().cloned(),
                )
                .0,
                dropped_attributes_count: 0,
            };
            put_message(SCOPE_LOGS_SCOPE, &scope, &mut scope_logs);
            for (i, r) in records.iter().enumerate().skip(first) {
                if !done[i] && same_scope(head, r) {
                    put_bytes(SCOPE_LOGS_LOG_RECORDS, &r.record, &mut scope_logs);
                    done[i] = true;
                }
            }
            if let Some(url) = head.scope.schema_url().filter(|u| !u.is_empty()) {
                put_bytes(SCOPE_LOGS_SCHEMA_URL, url.as_bytes(), &mut scope_logs);
            }
            put_bytes(RESOURCE_LOGS_SCOPE_LOGS, &scope_logs, &mut resource_logs);
        }
        if !self.schema_url.is_empty() {
            put_bytes(RESOURCE_LOGS_SCHEMA_URL, self.schema_url.as_bytes(), &mut resource_logs);
        }
        put_bytes(REQUEST_RESOURCE_LOGS, &resource_logs, out);
    }
}

/// Truncates strings and byte arrays to `max` (characters, bytes), recursively through arrays and maps.
fn truncate_any(value: &mut ProtoAnyValue, max: usize) {
    match &mut value.value {
        Some(ProtoValue::StringValue(s)) => {
            if let Some((byte, _)) = s.char_indices().nth(max) {
                s.truncate(byte);
            }
        }
        Some(ProtoValue::BytesValue(b)) => b.truncate(max),
        Some(ProtoValue::ArrayValue(a)) => a.values.iter_mut().for_each(|v| truncate_any(v, max)),
        Some(ProtoValue::KvlistValue(m)) => {
            m.values.iter_mut().filter_map(|kv| kv.value.as_mut()).for_each(|v| truncate_any(v, max))
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _};
    use opentelemetry::{KeyValue, trace::SpanContext};
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_sdk::logs::{LogProcessor, SdkLoggerProvider};

    use super::*;

    /// Captures what the SDK's logger hands to a processor, encoded.
    #[derive(Debug, Default, Clone)]
    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<EncodedLogRecord>>>, Option<AttributeLimits>);

    impl LogProcessor for Capture {
        fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
            let limits = self.1.unwrap_or(AttributeLimits { value_length: None, count: 128 });
            let encoder = LogEncoder::new(&Resource::builder_empty().build(), limits);
            self.0.lock().unwrap().push(encoder.encode_record(record, scope));
        }
        fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
            Ok(())
        }
    }

    fn resource() -> Resource {
        Resource::builder_empty().with_attribute(KeyValue::new("service.name", "enc")).build()
    }

    #[test]
    fn log_batches_group_by_scope_and_decode_with_prost() {
        let capture = Capture::default();
        let provider = SdkLoggerProvider::builder().with_log_processor(capture.clone()).build();
        let a = provider.logger("a");
        let b = provider.logger("b");
        for (logger, body) in [(&a, "one"), (&b, "two"), (&a, "three")] {
            let mut r = logger.create_log_record();
            r.set_body(AnyValue::from(body));
            logger.emit(r);
        }
        let records = std::mem::take(&mut *capture.0.lock().unwrap());
        let mut out = Vec::new();
        LogEncoder::new(&resource(), AttributeLimits { value_length: None, count: 128 }).encode(&records, &mut out);
        let request = ExportLogsServiceRequest::decode(out.as_slice()).unwrap();
        assert_eq!(request.resource_logs.len(), 1);
        let rl = &request.resource_logs[0];
        assert_eq!(rl.resource.as_ref().unwrap().attributes[0].key, "service.name");
        let scopes: Vec<(&str, usize)> =
            rl.scope_logs.iter().map(|s| (s.scope.as_ref().unwrap().name.as_str(), s.log_records.len())).collect();
        assert_eq!(scopes, [("a", 2), ("b", 1)]);
    }

    #[test]
    fn log_limits_drop_and_truncate() {
        let limits = AttributeLimits { value_length: Some(3), count: 2 };
        let capture = Capture(Default::default(), Some(limits));
        let provider = SdkLoggerProvider::builder().with_log_processor(capture.clone()).build();
        let logger = provider.logger("l");
        let mut r = logger.create_log_record();
        r.add_attribute("s", "héllo");
        r.add_attribute("list", AnyValue::ListAny(Box::new(vec!["abcdef".into(), 7_i64.into()])));
        r.add_attribute("gone", "x");
        r.set_body("body is not an attribute".into());
        logger.emit(r);
        let records = std::mem::take(&mut *capture.0.lock().unwrap());
        let mut out = Vec::new();
        LogEncoder::new(&resource(), limits).encode(&records, &mut out);
        let request = ExportLogsServiceRequest::decode(out.as_slice()).unwrap();
        let record = &request.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(record.dropped_attributes_count, 1);
        let value = |i: usize| record.attributes[i].value.as_ref().unwrap().value.clone().unwrap();
        assert_eq!(value(0), ProtoValue::StringValue("hél".into()));
        match value(1) {
            ProtoValue::ArrayValue(a) => {
                assert_eq!(a.values[0].value, Some(ProtoValue::StringValue("abc".into())));
                assert_eq!(a.values[1].value, Some(ProtoValue::IntValue(7)));
            }
            other => panic!("{other:?}"),
        }
        let body = record.body.as_ref().unwrap().value.clone();
        assert_eq!(body, Some(ProtoValue::StringValue("body is not an attribute".into())));
    }

    #[test]
    fn spans_are_truncated_and_decode_with_prost() {
        let mut span = SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: opentelemetry::trace::SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: opentelemetry::trace::SpanKind::Server,
            name: "GET /".into(),
            start_time: std::time::SystemTime::now(),
            end_time: std::time::SystemTime::now(),
            attributes: vec![KeyValue::new("url.path", "/a/very/long/path")],
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: opentelemetry::trace::Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("s").build(),
        };
        span.attributes.push(KeyValue::new("n", 5_i64));
        let mut out = Vec::new();
        TraceEncoder::new(&resource(), AttributeLimits { value_length: Some(4), count: 128 })
            .encode(&[span.clone(), span], &mut out);
        let request = ExportTraceServiceRequest::decode(out.as_slice()).unwrap();
        let spans = &request.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].attributes[0].value.as_ref().unwrap().value, Some(ProtoValue::StringValue("/a/v".into())));
    }
}
