//! The encoder's conformance check, shared by `tests/pipeline/encode_conformance.rs` (proptest) and the `otlp_encoder` fuzz
//! target (which includes this file with `#[path]`): encode with otelwright's encoder, decode with
//! opentelemetry-proto's prost types, and compare field for field with what the SDK's own exporter sends for the
//! same input, i.e. opentelemetry-proto's `transform` module (`group_spans_by_resource_and_scope`,
//! `group_logs_by_resource_and_scope`), which is what opentelemetry-otlp encodes.
//!
//! The expected side is the stock conversion with otelwright's deliberate differences applied explicitly, each in
//! one place below ([`expected_traces`], [`expected_logs`]):
//! - attribute limits (`AttributeLimits`), applied by a plain reference implementation on the stock output;
//! - log records: `time_unix_nano` is the observed time when the record has no timestamp (issues 13 and 16);
//! - log records: tracing's synthetic event names (`SYNTHETIC_EVENT_NAMES`) are not exported (issue 16).
//!
//! Also: [`check_bytes`], the fuzz input (arbitrary bytes → spans, log records, resource, limits).
#![allow(dead_code)]

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::logs::{AnyValue as LogValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{Array, InstrumentationScope, Key, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as ProtoKeyValue, any_value};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{LogBatch, SdkLogRecord, SdkLoggerProvider};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use otelwright::__encode::{AttributeLimits, LogEncoder, TraceEncoder};
use prost::Message as _;

/// Event names a record may carry (`set_event_name` takes `&'static str`). `true`: tracing made the name up (an
/// event without `name:`, `concat!("event ", file!(), ":", line!())`, or tracing-log's `"log event"`); otelwright
/// does not export those.
pub(crate) const EVENT_NAMES: [(&str, bool); 8] = [
    ("user.login", false),
    ("payment.failed", false),
    ("événement.ñ", false),
    ("event user.login", false),
    ("", false),
    ("event src/main.rs:12", true),
    ("event crates/shop/src/orders/mod.rs:4711", true),
    ("log event", true),
];

/// Severity texts a record may carry (`set_severity_text` takes `&'static str`).
pub(crate) const SEVERITY_TEXTS: [&str; 5] = ["INFO", "WARN", "", "débogage", "ERROR"];

/// The 24 severities, in `SeverityNumber` order (1..=24).
pub(crate) const SEVERITIES: [Severity; 24] = [
    Severity::Trace,
    Severity::Trace2,
    Severity::Trace3,
    Severity::Trace4,
    Severity::Debug,
    Severity::Debug2,
    Severity::Debug3,
    Severity::Debug4,
    Severity::Info,
    Severity::Info2,
    Severity::Info3,
    Severity::Info4,
    Severity::Warn,
    Severity::Warn2,
    Severity::Warn3,
    Severity::Warn4,
    Severity::Error,
    Severity::Error2,
    Severity::Error3,
    Severity::Error4,
    Severity::Fatal,
    Severity::Fatal2,
    Severity::Fatal3,
    Severity::Fatal4,
];

/// The scopes spans and records are drawn from: bare, versioned, with a schema URL and attributes, unicode.
pub(crate) fn scopes() -> Vec<InstrumentationScope> {
    vec![
        InstrumentationScope::builder("bare").build(),
        InstrumentationScope::builder("otelwright-http").with_version("0.1.0").build(),
        InstrumentationScope::builder("with-everything")
            .with_version("2.3.4")
            .with_schema_url("https://opentelemetry.io/schemas/1.37.0")
            .with_attributes([
                KeyValue::new("scope.flag", true),
                KeyValue::new("scope.list", Value::Array(Array::I64(vec![1, -2, 3]))),
            ])
            .build(),
        InstrumentationScope::builder("ünïcødé/スコープ").with_version("β").build(),
    ]
}

/// A log record to build: everything `SdkLogRecord` carries, in owned form.
#[derive(Debug, Clone)]
pub(crate) struct LogInput {
    /// Index into [`EVENT_NAMES`].
    pub(crate) event_name: Option<usize>,
    pub(crate) target: Option<String>,
    /// Nanoseconds after the epoch, at least 1 (see [`expected_logs`]).
    pub(crate) timestamp: Option<u64>,
    /// Nanoseconds after the epoch. Always set: the SDK's logger sets it on every record it emits, and the stock
    /// conversion panics without it.
    pub(crate) observed: u64,
    /// (trace id, span id, trace flags).
    pub(crate) trace_context: Option<(u128, u64, Option<u8>)>,
    /// Index into [`SEVERITY_TEXTS`].
    pub(crate) severity_text: Option<usize>,
    /// Index into [`SEVERITIES`].
    pub(crate) severity: Option<usize>,
    pub(crate) body: Option<LogValue>,
    pub(crate) attributes: Vec<(String, LogValue)>,
    /// Index into [`scopes`].
    pub(crate) scope: usize,
}

impl LogInput {
    /// The record, made the only public way: by a logger.
    pub(crate) fn build(&self, provider: &SdkLoggerProvider) -> SdkLogRecord {
        let mut r = provider.logger("conformance").create_log_record();
        if let Some(i) = self.event_name {
            r.set_event_name(EVENT_NAMES[i % EVENT_NAMES.len()].0);
        }
        if let Some(t) = &self.target {
            r.set_target(t.clone());
        }
        if let Some(t) = self.timestamp {
            r.set_timestamp(UNIX_EPOCH + Duration::from_nanos(t));
        }
        r.set_observed_timestamp(UNIX_EPOCH + Duration::from_nanos(self.observed));
        if let Some((t, s, f)) = self.trace_context {
            r.set_trace_context(TraceId::from(t), SpanId::from(s), f.map(TraceFlags::new));
        }
        if let Some(i) = self.severity_text {
            r.set_severity_text(SEVERITY_TEXTS[i % SEVERITY_TEXTS.len()]);
        }
        if let Some(i) = self.severity {
            r.set_severity_number(SEVERITIES[i % SEVERITIES.len()]);
        }
        if let Some(b) = &self.body {
            r.set_body(b.clone());
        }
        for (k, v) in &self.attributes {
            r.add_attribute(Key::new(k.clone()), v.clone());
        }
        r
    }
}

/// Encodes `spans` with otelwright's encoder and checks the bytes decode to what the SDK exporter sends, with the
/// limits applied. Panics with the first difference.
pub(crate) fn check_traces(resource: &Resource, spans: &[SpanData], limits: AttributeLimits) {
    let mut out = Vec::new();
    let mut encoder = TraceEncoder::new(resource, limits);
    encoder.encode(spans, &mut out);
    let ours = ExportTraceServiceRequest::decode(out.as_slice()).expect("our trace request decodes with prost");
    let expected = expected_traces(resource, spans, limits);
    assert_eq!(ours.resource_spans.len(), 1);
    let (o, e) = (&ours.resource_spans[0], &expected.resource_spans[0]);
    assert_same("resource", &o.resource, &e.resource);
    assert_same("resource schema_url", &o.schema_url, &e.schema_url);
    assert_eq!(o.scope_spans.len(), e.scope_spans.len(), "number of scopes");
    for (os, es) in o.scope_spans.iter().zip(&e.scope_spans) {
        assert_same("scope", &os.scope, &es.scope);
        assert_same("scope schema_url", &os.schema_url, &es.schema_url);
        assert_eq!(os.spans.len(), es.spans.len(), "spans in scope {:?}", es.scope);
        for (i, (a, b)) in os.spans.iter().zip(&es.spans).enumerate() {
            assert_same(&format!("span {i} of scope {:?}", es.scope.as_ref().map(|s| &s.name)), a, b);
        }
    }
    // The request as a whole, in case a field is not covered above.
    assert_same("whole trace request", &ours, &expected);
    // Reuse: a second request from the same encoder is the same bytes.
    let mut again = Vec::new();
    encoder.encode(spans, &mut again);
    assert_eq!(out, again, "second encode of the same spans");
}

/// What the SDK's exporter sends for `spans` (opentelemetry-proto's `transform`, on the clone the tonic exporter
/// makes), with otelwright's deliberate difference applied: the attribute limits on span, event and link
/// attributes.
pub(crate) fn expected_traces(
    resource: &Resource,
    spans: &[SpanData],
    limits: AttributeLimits,
) -> ExportTraceServiceRequest {
    let mut resource_spans =
        group_spans_by_resource_and_scope(spans.to_vec(), &ResourceAttributesWithSchema::from(resource));
    for rs in &mut resource_spans {
        for ss in &mut rs.scope_spans {
            for span in &mut ss.spans {
                apply_limits(&mut span.attributes, &mut span.dropped_attributes_count, limits);
                for event in &mut span.events {
                    apply_limits(&mut event.attributes, &mut event.dropped_attributes_count, limits);
                }
                for link in &mut span.links {
                    apply_limits(&mut link.attributes, &mut link.dropped_attributes_count, limits);
                }
            }
        }
    }
    ExportTraceServiceRequest { resource_spans }
}

/// Encodes the records with otelwright's encoder and checks the bytes decode to what the SDK exporter sends, with
/// the deliberate differences applied. Panics with the first difference.
pub(crate) fn check_logs(resource: &Resource, inputs: &[LogInput], limits: AttributeLimits) {
    let provider = SdkLoggerProvider::builder().build();
    let scopes = scopes();
    let records: Vec<SdkLogRecord> = inputs.iter().map(|i| i.build(&provider)).collect();
    let pairs: Vec<(&SdkLogRecord, &InstrumentationScope)> =
        records.iter().zip(inputs).map(|(r, i)| (r, &scopes[i.scope % scopes.len()])).collect();

    let mut out = Vec::new();
    let mut encoder = LogEncoder::new(resource, limits);
    encoder.encode(pairs.iter().copied(), &mut out);
    // Encoding each record where it is emitted (`encode_record`) and framing them later gives the same bytes.
    let emitted: Vec<_> = pairs.iter().map(|(r, s)| encoder.encode_record(r, s)).collect();
    let mut framed = Vec::new();
    LogEncoder::new(resource, limits).frame(&emitted, &mut framed);
    assert_eq!(framed, out, "encode_record + frame against push + finish");
    let mut ours = ExportLogsServiceRequest::decode(out.as_slice()).expect("our logs request decodes with prost");
    let mut expected = expected_logs(resource, &pairs, limits);
    // The SDK exporter groups records in a HashMap, so its scope order varies: compare scopes in a fixed order.
    // Within a scope both keep the records' order.
    for req in [&mut ours, &mut expected] {
        for rl in &mut req.resource_logs {
            rl.scope_logs.sort_by_cached_key(|sl| format!("{:?} {}", sl.scope, sl.schema_url));
        }
    }
    assert_eq!(ours.resource_logs.len(), 1);
    let (o, e) = (&ours.resource_logs[0], &expected.resource_logs[0]);
    assert_same("resource", &o.resource, &e.resource);
    assert_same("resource schema_url", &o.schema_url, &e.schema_url);
    assert_eq!(o.scope_logs.len(), e.scope_logs.len(), "number of scopes");
    for (os, es) in o.scope_logs.iter().zip(&e.scope_logs) {
        assert_same("scope", &os.scope, &es.scope);
        assert_same("scope schema_url", &os.schema_url, &es.schema_url);
        assert_eq!(os.log_records.len(), es.log_records.len(), "records in scope {:?}", es.scope);
        for (i, (a, b)) in os.log_records.iter().zip(&es.log_records).enumerate() {
            assert_same(&format!("record {i} of scope {:?}", es.scope.as_ref().map(|s| &s.name)), a, b);
        }
    }
    assert_same("whole logs request", &ours, &expected);
}

/// What the SDK's exporter sends for these records, with otelwright's deliberate differences applied:
/// - `time_unix_nano`: the SDK leaves it 0 when the record has no timestamp; otelwright sends the observed time
///   (issues 13 and 16). Generated timestamps are at least 1 ns after the epoch, so 0 means "no timestamp";
/// - `event_name`: names tracing made up ([`EVENT_NAMES`] marks them) are not sent (issue 16);
/// - the attribute limits, with the count limit's drops in `dropped_attributes_count` (the SDK sends 0).
pub(crate) fn expected_logs(
    resource: &Resource,
    pairs: &[(&SdkLogRecord, &InstrumentationScope)],
    limits: AttributeLimits,
) -> ExportLogsServiceRequest {
    let batch = LogBatch::new(pairs);
    let mut resource_logs = group_logs_by_resource_and_scope(&batch, &ResourceAttributesWithSchema::from(resource));
    for rl in &mut resource_logs {
        for sl in &mut rl.scope_logs {
            for r in &mut sl.log_records {
                if r.time_unix_nano == 0 {
                    r.time_unix_nano = r.observed_time_unix_nano;
                }
                if EVENT_NAMES.iter().any(|&(name, synthetic)| synthetic && name == r.event_name) {
                    r.event_name.clear();
                }
                apply_limits(&mut r.attributes, &mut r.dropped_attributes_count, limits);
            }
        }
    }
    ExportLogsServiceRequest { resource_logs }
}

/// The attribute limits, as the specification states them (`common/README.md`, "Attribute Limits"), on a decoded
/// attribute list: keep the first `count`, count the rest as dropped; cut strings to `value_length` characters and
/// byte arrays to `value_length` bytes, inside arrays and maps too.
fn apply_limits(attrs: &mut Vec<ProtoKeyValue>, dropped: &mut u32, limits: AttributeLimits) {
    if let Some(n) = limits.count
        && attrs.len() > n
    {
        *dropped += (attrs.len() - n) as u32;
        attrs.truncate(n);
    }
    if let Some(max) = limits.value_length {
        for kv in attrs {
            if let Some(v) = &mut kv.value {
                truncate_value(v, max);
            }
        }
    }
}

fn truncate_value(v: &mut AnyValue, max: usize) {
    match &mut v.value {
        Some(any_value::Value::StringValue(s)) => *s = s.chars().take(max).collect(),
        Some(any_value::Value::BytesValue(b)) => b.truncate(max),
        Some(any_value::Value::ArrayValue(a)) => a.values.iter_mut().for_each(|v| truncate_value(v, max)),
        Some(any_value::Value::KvlistValue(l)) => {
            l.values.iter_mut().filter_map(|kv| kv.value.as_mut()).for_each(|v| truncate_value(v, max))
        }
        _ => {}
    }
}

/// Equality through `Debug`, so a NaN equals a NaN (prost's `PartialEq` on `f64` says it does not), while `-0.0`
/// and `0.0` stay different.
fn assert_same<T: std::fmt::Debug>(what: &str, ours: &T, expected: &T) {
    let (o, e) = (format!("{ours:?}"), format!("{expected:?}"));
    assert!(o == e, "{what} differs\n  ours:     {o}\n  expected: {e}");
}

/// The fuzz input: bytes read as a resource, attribute limits, spans and log records, then both checks. Every
/// byte string is a valid input; running out of bytes reads zeros.
pub(crate) fn check_bytes(data: &[u8]) {
    let mut r = Reader(data);
    let resource = {
        let attrs: Vec<KeyValue> = (0..r.byte() % 4).map(|_| KeyValue::new(r.string(12), r.value())).collect();
        let b = Resource::builder_empty().with_attributes(attrs);
        if r.byte() % 2 == 0 { b.build() } else { b.with_schema_url([], r.string(20)).build() }
    };
    let limits = AttributeLimits {
        count: (r.byte() % 2 == 1).then(|| r.byte() as usize % 6),
        value_length: (r.byte() % 2 == 1).then(|| r.byte() as usize % 10),
    };
    let scopes = scopes();
    let spans: Vec<SpanData> = (0..r.byte() % 6).map(|_| r.span(&scopes)).collect();
    let logs: Vec<LogInput> = (0..r.byte() % 6).map(|_| r.log()).collect();
    check_traces(&resource, &spans, limits);
    check_logs(&resource, &logs, limits);
}

/// Reads structured values from fuzz bytes.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |acc, _| (acc << 8) | u64::from(self.byte()))
    }

    fn flag(&mut self) -> bool {
        self.byte() % 2 == 1
    }

    /// Up to `max` bytes (or a long run when the length byte says so), as UTF-8 with invalid bytes replaced:
    /// ASCII, multi-byte characters and U+FFFD all occur.
    fn string(&mut self, max: usize) -> String {
        let n = self.byte() as usize;
        let n = if n == 255 { 300 } else { n % (max + 1) };
        let take = n.min(self.0.len());
        let (s, rest) = self.0.split_at(take);
        self.0 = rest;
        String::from_utf8_lossy(s).into_owned()
    }

    fn time(&mut self) -> SystemTime {
        let n = self.u64();
        // A tenth of the times fall before the epoch (sent as 0).
        if n.is_multiple_of(10) {
            UNIX_EPOCH - Duration::from_secs(n % 1000 + 1)
        } else {
            UNIX_EPOCH + Duration::from_nanos(n)
        }
    }

    fn value(&mut self) -> Value {
        let n = (self.byte() % 4) as usize;
        match self.byte() % 8 {
            0 => Value::Bool(self.flag()),
            1 => Value::I64(self.u64() as i64),
            2 => Value::F64(f64::from_bits(self.u64())),
            3 => Value::String(self.string(40).into()),
            4 => Value::Array(Array::Bool((0..n).map(|_| self.flag()).collect())),
            5 => Value::Array(Array::I64((0..n).map(|_| self.u64() as i64).collect())),
            6 => Value::Array(Array::F64((0..n).map(|_| f64::from_bits(self.u64())).collect())),
            _ => Value::Array(Array::String((0..n).map(|_| StringValue::from(self.string(20))).collect())),
        }
    }

    fn attributes(&mut self) -> Vec<KeyValue> {
        (0..self.byte() % 8).map(|_| KeyValue::new(self.string(12), self.value())).collect()
    }

    fn log_value(&mut self, depth: u32) -> LogValue {
        let nested = depth < 3;
        match self.byte() % if nested { 7 } else { 5 } {
            0 => LogValue::Int(self.u64() as i64),
            1 => LogValue::Double(f64::from_bits(self.u64())),
            2 => LogValue::String(self.string(40).into()),
            3 => LogValue::Boolean(self.flag()),
            4 => LogValue::Bytes(Box::new(self.string(20).into_bytes())),
            5 => LogValue::ListAny(Box::new((0..self.byte() % 4).map(|_| self.log_value(depth + 1)).collect())),
            _ => LogValue::Map(Box::new(
                (0..self.byte() % 4).map(|_| (Key::new(self.string(8)), self.log_value(depth + 1))).collect(),
            )),
        }
    }

    fn trace_state(&mut self) -> TraceState {
        let n = self.byte() % 4;
        let members: Vec<(String, String)> = (0..n)
            .map(|i| {
                let key = format!("k{}{}", i, ["", "@vendor", "_x", "-y/z*"][self.byte() as usize % 4]);
                let value: String =
                    self.string(10).chars().filter(|c| matches!(c, '!'..='~') && *c != ',' && *c != '=').collect();
                (key, if value.is_empty() { "v".to_owned() } else { value })
            })
            .collect();
        TraceState::from_key_value(members).unwrap_or_default()
    }

    fn span_context(&mut self) -> SpanContext {
        let trace_id = TraceId::from(u128::from(self.u64()) << 64 | u128::from(self.u64()));
        let span_id = SpanId::from(self.u64());
        let flags = TraceFlags::new(self.byte());
        let remote = self.flag();
        SpanContext::new(trace_id, span_id, flags, remote, self.trace_state())
    }

    fn span(&mut self, scopes: &[InstrumentationScope]) -> SpanData {
        let span_context = self.span_context();
        let parent_span_id = if self.flag() { SpanId::from(self.u64()) } else { SpanId::INVALID };
        let kinds = [SpanKind::Internal, SpanKind::Server, SpanKind::Client, SpanKind::Producer, SpanKind::Consumer];
        let mut events = SpanEvents::default();
        events.events = (0..self.byte() % 3)
            .map(|_| Event::new(self.string(20), self.time(), self.attributes(), u32::from(self.byte() % 3)))
            .collect();
        events.dropped_count = u32::from(self.byte() % 3);
        let mut links = SpanLinks::default();
        links.links = (0..self.byte() % 3)
            .map(|_| Link::new(self.span_context(), self.attributes(), u32::from(self.byte() % 3)))
            .collect();
        links.dropped_count = u32::from(self.byte() % 3);
        SpanData {
            span_context,
            parent_span_id,
            parent_span_is_remote: self.flag(),
            span_kind: kinds[self.byte() as usize % kinds.len()].clone(),
            name: Cow::Owned(self.string(30)),
            start_time: self.time(),
            end_time: self.time(),
            attributes: self.attributes(),
            dropped_attributes_count: u32::from(self.byte() % 3),
            events,
            links,
            status: match self.byte() % 3 {
                0 => Status::Unset,
                1 => Status::Ok,
                _ => Status::error(self.string(30)),
            },
            instrumentation_scope: scopes[self.byte() as usize % scopes.len()].clone(),
        }
    }

    fn log(&mut self) -> LogInput {
        LogInput {
            event_name: self.flag().then(|| self.byte() as usize),
            target: self.flag().then(|| self.string(20)),
            timestamp: self.flag().then(|| self.u64().max(1)),
            observed: self.u64(),
            trace_context: self.flag().then(|| {
                let flags = self.flag().then(|| self.byte());
                (u128::from(self.u64()), self.u64(), flags)
            }),
            severity_text: self.flag().then(|| self.byte() as usize),
            severity: self.flag().then(|| self.byte() as usize),
            body: self.flag().then(|| self.log_value(0)),
            attributes: (0..self.byte() % 8).map(|_| (self.string(12), self.log_value(1))).collect(),
            scope: self.byte() as usize,
        }
    }
}
