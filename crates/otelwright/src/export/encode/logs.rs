//! `ExportLogsServiceRequest` straight from `&SdkLogRecord`: the fields the SDK's OTLP exporter sends
//! (opentelemetry-proto 0.33 `transform/logs.rs`), with three deliberate differences:
//! - `time_unix_nano` is always set: the record's timestamp, or else its observed time (issues 13 and 16);
//! - tracing's synthetic event names are not exported as `event_name` (issue 16, see [`user_event_name`]);
//! - the attribute count and value length limits are applied (`OTEL_LOGRECORD_ATTRIBUTE_*_LIMIT`).

use std::borrow::Cow;

use opentelemetry::InstrumentationScope;
use opentelemetry::logs::AnyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLogRecord;

use super::common::{AttributeLimits, RequestBuilder, truncate_bytes, truncate_str, unix_nanos};
use super::wire;

/// Encodes `ExportLogsServiceRequest` bytes (no gRPC framing): the resource once, each distinct scope once per
/// request, then the records under their scope.
///
/// Records are borrowed only while they are pushed, so a `LogProcessor` can encode each record in `emit`, on the
/// caller's thread, without cloning or boxing it, and hand whole requests to the exporter: push under a lock
/// into the current encoder, swap it for an idle one (`std::mem::swap`, no copy) when the batch is due, and
/// [`finish`](Self::finish) the full one outside the lock.
#[derive(Debug, Clone)]
pub struct LogEncoder {
    request: RequestBuilder,
    limits: AttributeLimits,
}

impl LogEncoder {
    /// An encoder for records of `resource`; `limits` apply to log record attributes.
    pub fn new(resource: &Resource, limits: AttributeLimits) -> Self {
        LogEncoder { request: RequestBuilder::new(resource), limits }
    }

    /// Replaces the resource (`LogProcessor::set_resource` is called once the provider is built).
    pub fn set_resource(&mut self, resource: &Resource) {
        self.request.set_resource(resource);
    }

    /// Writes one complete request for `records` into `out` (cleared first). Records pushed before and not yet
    /// finished are included.
    pub fn encode<'a>(
        &mut self,
        records: impl IntoIterator<Item = (&'a SdkLogRecord, &'a InstrumentationScope)>,
        out: &mut Vec<u8>,
    ) {
        for (record, scope) in records {
            self.push(record, scope);
        }
        self.finish(out);
    }

    /// Encodes one record, emitted through a logger of `scope`, into the pending request.
    pub fn push(&mut self, record: &SdkLogRecord, scope: &InstrumentationScope) {
        // The exported scope is named after the record's target when it has one, as the SDK exporter does
        // (opentelemetry-proto 0.33 `transform/logs.rs`, `group_logs_by_resource_and_scope`): with the tracing
        // bridge, the module path of the event.
        let limits = self.limits;
        let items = self.request.group(record.target(), scope);
        // ScopeLogs.log_records = 2.
        wire::message(items, 2, |out| record_fields(out, record, limits));
    }

    /// Records pushed since the last [`finish`](Self::finish).
    pub fn pending(&self) -> usize {
        self.request.items()
    }

    /// The size of the request [`finish`](Self::finish) would write now, in bytes (0 with nothing pending).
    pub fn encoded_len(&self) -> usize {
        self.request.encoded_len()
    }

    /// Writes the pending records as one request into `out` (cleared first) and starts the next request; the
    /// buffers are kept.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.request.finish(out);
    }
}

/// One log record encoded where it was emitted (the body of a `LogRecord` message), with the scope it is exported
/// under: what a `LogProcessor` queues instead of a clone of the record.
#[derive(Debug)]
pub struct EncodedLogRecord {
    /// The record's target, exported as the scope's name (see [`LogEncoder::push`]).
    target: Option<Cow<'static, str>>,
    scope: InstrumentationScope,
    record: Vec<u8>,
}

impl LogEncoder {
    /// Encodes one record on its own, for a later [`frame`](Self::frame); `&self`, so emitting threads share one
    /// encoder.
    pub fn encode_record(&self, record: &SdkLogRecord, scope: &InstrumentationScope) -> EncodedLogRecord {
        let mut bytes = Vec::with_capacity(256);
        record_fields(&mut bytes, record, self.limits);
        EncodedLogRecord { target: record.target().cloned(), scope: scope.clone(), record: bytes }
    }

    /// Writes one request for records encoded by [`encode_record`](Self::encode_record) into `out` (cleared
    /// first), each under its scope, as [`push`](Self::push) would have.
    pub fn frame(&mut self, records: &[EncodedLogRecord], out: &mut Vec<u8>) {
        for r in records {
            let items = self.request.group(r.target.as_ref(), &r.scope);
            // ScopeLogs.log_records = 2.
            wire::len_prefix(items, 2, r.record.len());
            items.extend_from_slice(&r.record);
        }
        self.request.finish(out);
    }
}

/// The fields of a `LogRecord` message (logs.proto), in field order.
fn record_fields(out: &mut Vec<u8>, record: &SdkLogRecord, limits: AttributeLimits) {
    let observed = record.observed_timestamp().or(record.timestamp()).map_or(0, unix_nanos);
    // time_unix_nano = 1 (fixed64): "Time when the event occurred" (logs.proto). The SDK exporter leaves it 0 when
    // the record has no timestamp, and the tracing bridge never sets one; the log data model allows an unknown
    // event time, but issues 13 and 16 require it: the observed time stands in, which for a record emitted
    // through the tracing bridge is when the event happened.
    wire::fixed64(out, 1, record.timestamp().map_or(observed, unix_nanos));
    // severity_number = 2: SeverityNumber, the same numbers as `Severity` (SEVERITY_NUMBER_TRACE = 1 ... FATAL4 =
    // 24); unset is SEVERITY_NUMBER_UNSPECIFIED = 0.
    wire::uint(out, 2, record.severity_number().map_or(0, |s| s as u64));
    // severity_text = 3.
    wire::bytes(out, 3, record.severity_text().unwrap_or_default().as_bytes());
    // body = 5: an AnyValue, not subject to the attribute limits.
    if let Some(body) = record.body() {
        wire::message(out, 5, |out| any_value(out, body, None));
    }
    // attributes = 6, dropped_attributes_count = 7.
    let mut kept = 0;
    let mut dropped = 0u32;
    for (key, value) in record.attributes_iter() {
        if limits.count.is_some_and(|n| kept >= n) {
            dropped += 1;
            continue;
        }
        kept += 1;
        key_value(out, 6, key.as_str(), value, limits.value_length);
    }
    wire::uint(out, 7, u64::from(dropped));
    // flags = 8 (fixed32): "Bits 0-7 are the trace flags" (logs.proto `LogRecordFlags`), copied as they are.
    // trace_id = 9, span_id = 10: as the SDK exporter, the context's ids whenever the record has a trace context.
    if let Some(cx) = record.trace_context() {
        wire::fixed32(out, 8, u32::from(cx.trace_flags.map_or(0, |f| f.to_u8())));
        wire::bytes(out, 9, &cx.trace_id.to_bytes());
        wire::bytes(out, 10, &cx.span_id.to_bytes());
    }
    // observed_time_unix_nano = 11 (fixed64).
    wire::fixed64(out, 11, observed);
    // event_name = 12.
    if let Some(name) = record.event_name().and_then(user_event_name) {
        wire::bytes(out, 12, name.as_bytes());
    }
}

/// The event name to export, or `None` for a name tracing made up.
///
/// opentelemetry-appender-tracing 0.33 sets every record's event name to the tracing event's metadata name
/// (`layer.rs`, `on_event`: `log_record.set_event_name(name)` with `name = metadata.name()`). A tracing event
/// without `name:` gets the name `concat!("event ", file!(), ":", line!())` (tracing 0.1.44 `macros.rs`, the
/// `event!` arms without `name:`), and a `log` record bridged by tracing-log gets `"log event"` (tracing-log 0.2
/// `lib.rs`, `log_cs!`). Those name a source line, not an event type ("EventName [...] identifies the class /
/// type of the event", log data model), so only names given with `name:` are exported (issue 16). A user name
/// of exactly that shape (`"event x.rs:12"`) is indistinguishable and is dropped too.
pub(crate) fn user_event_name(name: &str) -> Option<&str> {
    if name == "log event" {
        return None;
    }
    if let Some(location) = name.strip_prefix("event ")
        && let Some((file, line)) = location.rsplit_once(':')
        && !file.is_empty()
        && !line.is_empty()
        && line.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some(name).filter(|n| !n.is_empty())
}

/// One `KeyValue` (common.proto: `key` = 1, `value` = 2) with a log `AnyValue`.
fn key_value(out: &mut Vec<u8>, field: u32, key: &str, value: &AnyValue, max_len: Option<usize>) {
    wire::message(out, field, |out| {
        wire::bytes(out, 1, key.as_bytes());
        wire::message(out, 2, |out| any_value(out, value, max_len));
    });
}

/// The fields of an `AnyValue` (common.proto). The `value` oneof: `string_value` = 1, `bool_value` = 2,
/// `int_value` = 3, `double_value` = 4, `array_value` = 5 (`ArrayValue.values` = 1), `kvlist_value` = 6
/// (`KeyValueList.values` = 1), `bytes_value` = 7. `max_len` applies to strings and byte arrays at any depth. A
/// variant added to the non-exhaustive `AnyValue` later is written as an empty `AnyValue`.
fn any_value(out: &mut Vec<u8>, value: &AnyValue, max_len: Option<usize>) {
    match value {
        AnyValue::String(s) => wire::bytes_always(out, 1, truncate_str(s.as_str(), max_len).as_bytes()),
        AnyValue::Boolean(b) => wire::bool_always(out, 2, *b),
        AnyValue::Int(i) => wire::int64_always(out, 3, *i),
        AnyValue::Double(f) => wire::double_always(out, 4, *f),
        AnyValue::ListAny(items) => wire::message(out, 5, |out| {
            for item in items.iter() {
                wire::message(out, 1, |out| any_value(out, item, max_len));
            }
        }),
        AnyValue::Map(map) => wire::message(out, 6, |out| {
            for (k, v) in map.iter() {
                key_value(out, 1, k.as_str(), v, max_len);
            }
        }),
        AnyValue::Bytes(b) => wire::bytes_always(out, 7, truncate_bytes(b, max_len)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_tracing_names_are_not_event_names() {
        // What tracing's macros and tracing-log generate.
        assert_eq!(user_event_name("event src/main.rs:12"), None);
        assert_eq!(user_event_name("event crates/a b/src/lib.rs:1"), None);
        assert_eq!(user_event_name("event C:\\work\\src\\lib.rs:40"), None);
        assert_eq!(user_event_name("log event"), None);
        assert_eq!(user_event_name(""), None);
        // What users give with `name:`.
        assert_eq!(user_event_name("user.login"), Some("user.login"));
        assert_eq!(user_event_name("event"), Some("event"));
        assert_eq!(user_event_name("event user.login"), Some("event user.login"));
        assert_eq!(user_event_name("event src/main.rs:x"), Some("event src/main.rs:x"));
        assert_eq!(user_event_name("event src/main.rs:"), Some("event src/main.rs:"));
        assert_eq!(user_event_name("events src/main.rs:1"), Some("events src/main.rs:1"));
    }

    /// The names tracing itself generates, read from a real event's metadata (not a copy of the macro's format).
    #[test]
    fn names_from_real_tracing_events() {
        use std::sync::{Arc, Mutex};

        struct Names(Arc<Mutex<Vec<&'static str>>>);
        impl tracing::Subscriber for Names {
            fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
                true
            }
            fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
                tracing::span::Id::from_u64(1)
            }
            fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
            fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
            fn event(&self, event: &tracing::Event<'_>) {
                self.0.lock().unwrap().push(event.metadata().name());
            }
            fn enter(&self, _: &tracing::span::Id) {}
            fn exit(&self, _: &tracing::span::Id) {}
        }
        let names = Arc::new(Mutex::new(Vec::new()));
        tracing::subscriber::with_default(Names(names.clone()), || {
            tracing::info!("plain");
            tracing::warn!(target: "elsewhere", answer = 42, "with target");
            tracing::info!(name: "user.login", "named");
        });
        let names = names.lock().unwrap();
        assert_eq!(names.len(), 3);
        assert_eq!(user_event_name(names[0]), None, "{}", names[0]);
        assert_eq!(user_event_name(names[1]), None, "{}", names[1]);
        assert_eq!(user_event_name(names[2]), Some("user.login"));
    }
}
