//! Conformance of the hand-written OTLP encoder (issue 13, item 4): arbitrary spans and log records (every
//! attribute value type, arrays, events, links, status, trace state, flags, dropped counts, unicode, empty and
//! long values), encoded by otelwright, decoded with opentelemetry-proto's prost types, and compared field for field
//! with what the SDK's own exporter produces for the same input. `encode_support` states the deliberate differences.
//!
//! Also the `otlp_encoder` fuzz target's input, as a property: any bytes, read as spans and records, pass the same
//! check.

use crate::encode_support;

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use encode_support::{
    EVENT_NAMES, LogInput, SEVERITIES, SEVERITY_TEXTS, check_bytes, check_logs, check_traces, scopes,
};
use opentelemetry::logs::AnyValue as LogValue;
use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use otelwright::__encode::AttributeLimits;
use proptest::prelude::*;

/// Empty, short unicode, and long (past any limit the tests set) strings.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "\\PC{0,12}",
        1 => Just(String::new()),
        1 => "[a-zé日🦀]{100,300}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-z][a-z0-9_.]{0,15}", 1 => "\\PC{0,8}"]
}

fn f64_any() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        1 => prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY), Just(-0.0), Just(0.0)],
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let strings = prop::collection::vec(text().prop_map(StringValue::from), 0..4);
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        f64_any().prop_map(Value::F64),
        text().prop_map(|s| Value::String(s.into())),
        prop::collection::vec(any::<bool>(), 0..4).prop_map(|v| Value::Array(Array::Bool(v))),
        prop::collection::vec(any::<i64>(), 0..4).prop_map(|v| Value::Array(Array::I64(v))),
        prop::collection::vec(f64_any(), 0..4).prop_map(|v| Value::Array(Array::F64(v))),
        strings.prop_map(|v| Value::Array(Array::String(v))),
    ]
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec((key(), value()).prop_map(|(k, v)| KeyValue::new(k, v)), 0..8)
}

/// Before the epoch (sent as 0), at it, and up to the year 2554.
fn time() -> impl Strategy<Value = SystemTime> {
    prop_oneof![
        1 => (1u64..1_000_000).prop_map(|s| UNIX_EPOCH - Duration::from_secs(s)),
        1 => Just(UNIX_EPOCH),
        8 => any::<u64>().prop_map(|n| UNIX_EPOCH + Duration::from_nanos(n)),
    ]
}

fn trace_state() -> impl Strategy<Value = TraceState> {
    let member = ("[a-z][a-z0-9_*/-]{0,10}(@[a-z][a-z0-9_*/-]{0,5})?", "[!-+--<>-~]{1,12}");
    prop::collection::vec(member, 0..5).prop_map(|m| TraceState::from_key_value(m).unwrap_or_default())
}

fn span_context() -> impl Strategy<Value = SpanContext> {
    (any::<u128>(), any::<u64>(), any::<u8>(), any::<bool>(), trace_state()).prop_map(|(t, s, f, remote, state)| {
        SpanContext::new(TraceId::from(t), SpanId::from(s), TraceFlags::new(f), remote, state)
    })
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![Just(Status::Unset), Just(Status::Ok), text().prop_map(Status::error)]
}

fn kind() -> impl Strategy<Value = SpanKind> {
    prop_oneof![
        Just(SpanKind::Internal),
        Just(SpanKind::Server),
        Just(SpanKind::Client),
        Just(SpanKind::Producer),
        Just(SpanKind::Consumer),
    ]
}

fn events() -> impl Strategy<Value = SpanEvents> {
    let event = (text(), time(), attributes(), 0u32..3).prop_map(|(n, t, a, d)| Event::new(n, t, a, d));
    (prop::collection::vec(event, 0..3), 0u32..3).prop_map(|(events, dropped)| {
        let mut e = SpanEvents::default();
        e.events = events;
        e.dropped_count = dropped;
        e
    })
}

fn links() -> impl Strategy<Value = SpanLinks> {
    let link = (span_context(), attributes(), 0u32..3).prop_map(|(cx, a, d)| Link::new(cx, a, d));
    (prop::collection::vec(link, 0..3), 0u32..3).prop_map(|(links, dropped)| {
        let mut l = SpanLinks::default();
        l.links = links;
        l.dropped_count = dropped;
        l
    })
}

fn span() -> impl Strategy<Value = SpanData> {
    let ids = (span_context(), prop::option::of(any::<u64>().prop_filter("valid", |s| *s != 0)), any::<bool>());
    let what = (kind(), text(), time(), time(), status(), 0..scopes().len());
    let content = (attributes(), 0u32..3, events(), links());
    (ids, what, content).prop_map(
        |((span_context, parent, parent_span_is_remote), (span_kind, name, start, end, status, scope), content)| {
            let (attributes, dropped_attributes_count, events, links) = content;
            SpanData {
                span_context,
                parent_span_id: parent.map_or(SpanId::INVALID, SpanId::from),
                parent_span_is_remote,
                span_kind,
                name: Cow::Owned(name),
                start_time: start,
                end_time: end,
                attributes,
                dropped_attributes_count,
                events,
                links,
                status,
                instrumentation_scope: scopes()[scope].clone(),
            }
        },
    )
}

fn resource() -> impl Strategy<Value = Resource> {
    (attributes(), prop::option::of("https://[a-z./0-9]{0,30}")).prop_map(|(attrs, schema)| {
        // Resource keys are unique (a later duplicate replaces the earlier one), as in any real resource.
        let b = Resource::builder_empty().with_attributes(attrs);
        match schema {
            Some(url) => b.with_schema_url([], url).build(),
            None => b.build(),
        }
    })
}

/// No limits half the time; otherwise small ones, so they bite.
fn limits() -> impl Strategy<Value = AttributeLimits> {
    prop_oneof![
        1 => Just(AttributeLimits::default()),
        1 => (prop::option::of(0usize..6), prop::option::of(0usize..20))
            .prop_map(|(count, value_length)| AttributeLimits { count, value_length }),
    ]
}

fn log_value() -> impl Strategy<Value = LogValue> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(LogValue::Int),
        f64_any().prop_map(LogValue::Double),
        text().prop_map(|s| LogValue::String(s.into())),
        any::<bool>().prop_map(LogValue::Boolean),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| LogValue::Bytes(Box::new(b))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| LogValue::ListAny(Box::new(v))),
            prop::collection::hash_map(key().prop_map(Key::new), inner, 0..4).prop_map(|m| LogValue::Map(Box::new(m))),
        ]
    })
}

fn log_input() -> impl Strategy<Value = LogInput> {
    let names = (
        prop::option::of(0..EVENT_NAMES.len()),
        prop::option::of(prop_oneof!["[a-z_]{1,10}(::[a-z_]{1,10}){0,3}", "\\PC{0,10}"]),
        prop::option::of(0..SEVERITY_TEXTS.len()),
        prop::option::of(0..SEVERITIES.len()),
    );
    // Timestamps are at least 1 ns after the epoch: `expected_logs` reads 0 as "no timestamp".
    let times = (prop::option::of(1u64..), any::<u64>());
    let cx = prop::option::of((any::<u128>(), any::<u64>(), prop::option::of(any::<u8>())));
    let content = (prop::option::of(log_value()), prop::collection::vec((key(), log_value()), 0..8));
    (names, times, cx, content, 0..scopes().len()).prop_map(
        |((event_name, target, severity_text, severity), (timestamp, observed), trace_context, content, scope)| {
            let (body, attributes) = content;
            LogInput {
                event_name,
                target,
                timestamp,
                observed,
                trace_context,
                severity_text,
                severity,
                body,
                attributes,
                scope,
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn spans_decode_to_what_the_sdk_exporter_sends(
        resource in resource(),
        spans in prop::collection::vec(span(), 0..6),
        limits in limits(),
    ) {
        check_traces(&resource, &spans, limits);
    }

    #[test]
    fn log_records_decode_to_what_the_sdk_exporter_sends(
        resource in resource(),
        records in prop::collection::vec(log_input(), 0..6),
        limits in limits(),
    ) {
        check_logs(&resource, &records, limits);
    }

    /// The `otlp_encoder` fuzz target's input: any bytes.
    #[test]
    fn fuzz_input_passes_the_same_checks(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_bytes(&data);
    }
}

/// A record that never went through the SDK's logger has no observed time. The SDK exporter cannot send it (its
/// conversion unwraps the observed time); ours sends the event time as both, and nothing when there is neither.
#[test]
fn records_without_observed_time() {
    use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use prost::Message as _;

    let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder().build();
    let scope = opentelemetry::InstrumentationScope::builder("s").build();
    let mut with_time = provider.logger("x").create_log_record();
    with_time.set_timestamp(UNIX_EPOCH + Duration::from_nanos(42));
    let without = provider.logger("x").create_log_record();
    let mut encoder = otelwright::__encode::LogEncoder::new(&Resource::builder_empty().build(), Default::default());
    let mut out = Vec::new();
    encoder.encode([(&with_time, &scope), (&without, &scope)], &mut out);
    let decoded = ExportLogsServiceRequest::decode(out.as_slice()).unwrap();
    let records = &decoded.resource_logs[0].scope_logs[0].log_records;
    assert_eq!((records[0].time_unix_nano, records[0].observed_time_unix_nano), (42, 42));
    assert_eq!((records[1].time_unix_nano, records[1].observed_time_unix_nano), (0, 0));
}

/// Spans pushed one at a time over several requests: each request holds exactly its spans, and scopes used in an
/// earlier request only appear when they have spans.
#[test]
fn push_and_finish_across_requests() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use proptest::strategy::ValueTree as _;
    use prost::Message as _;

    let resource = Resource::builder_empty().with_attributes([KeyValue::new("service.name", "svc")]).build();
    let mut encoder = otelwright::__encode::TraceEncoder::new(&resource, AttributeLimits::default());
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let spans: Vec<SpanData> = (0..8).map(|_| span().new_tree(&mut runner).unwrap().current()).collect();
    let mut out = Vec::new();
    for (i, span) in spans.iter().enumerate() {
        encoder.push(span);
        assert_eq!(encoder.pending(), 1);
        let expected_len = encoder.encoded_len();
        encoder.finish(&mut out);
        assert_eq!(out.len(), expected_len);
        let decoded = ExportTraceServiceRequest::decode(out.as_slice()).unwrap();
        let rs = &decoded.resource_spans[0];
        assert_eq!(rs.scope_spans.len(), 1, "request {i}");
        assert_eq!(rs.scope_spans[0].spans.len(), 1);
        assert_eq!(rs.scope_spans[0].scope.as_ref().unwrap().name, span.instrumentation_scope.name());
        assert_eq!(rs.scope_spans[0].spans[0].span_id, span.span_context.span_id().to_bytes());
        assert_eq!(rs.resource.as_ref().unwrap().attributes.len(), 1);
    }
    assert_eq!(encoder.pending(), 0);
    assert_eq!(encoder.encoded_len(), 0);
}
