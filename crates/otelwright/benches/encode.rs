//! OTLP encoding cost per span and per log record: otelwright's encoder against the SDK exporter's path, in the
//! same run.
//!
//! Run: `cargo bench -p otelwright --bench encode`. Divide each time by 512 for the cost per span or record.
//! Instruction counts, stable on a busy machine: run the bench binary under `valgrind --tool=callgrind` with
//! `--bench --profile-time 2 '^spans_512/otelwright$'` (or another name), then `callgrind_annotate --auto=yes` shows
//! each path's function (`otelwright_spans`, `stock_grpc_spans`, `stock_http_spans`, `otelwright_logs`,
//! `otelwright_emit_logs`, `stock_logs`: one batch of 512 each) with its inclusive count and calls (`(Nx)`).
//!
//! - `spans_512/otelwright`: `TraceEncoder::encode` of 512 spans into a reused buffer.
//! - `spans_512/stock_grpc`: what opentelemetry-otlp's tonic exporter does per export attempt: deep-clone the
//!   batch (`exporter/tonic/trace.rs`), `group_spans_by_resource_and_scope` into prost structs, prost-encode them
//!   into a reused buffer (tonic's codec), and free the tree.
//! - `spans_512/stock_http`: the HTTP exporter's path, which owns the batch (no clone): conversion, encoding, free.
//!   The batch it consumes is cloned outside the timing.
//! - `logs_512/otelwright`: `LogEncoder::push` of 512 records (what a processor does in `emit`) and `finish`.
//! - `logs_512/otelwright_emit`: what the log processor does: `LogEncoder::encode_record` per record (its own
//!   buffer, queued) and `frame` on the worker.
//! - `logs_512/stock`: the SDK's batch log processor and exporter: `Box::new((record.clone(), scope.clone()))` per
//!   record in `emit` (`batch_log_processor.rs`), then `group_logs_by_resource_and_scope` and prost encoding.
//!
//! The batch: 256 HTTP server spans with 10 attributes (scope `otelwright-http`), each with a child span with 3
//! attributes and one event with one attribute (scope `tracing-opentelemetry`); records like the tracing
//! bridge's: a target, INFO, a message body, 3 attributes, a trace context and tracing's synthetic event name.

#![allow(missing_docs)]

use std::borrow::Cow;
use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{LogBatch, SdkLogRecord, SdkLoggerProvider};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use otelwright::__encode::{AttributeLimits, EncodedLogRecord, LogEncoder, TraceEncoder};
use prost::Message as _;

const BATCH: usize = 512;

fn resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "checkout"),
            KeyValue::new("service.version", "1.4.2"),
            KeyValue::new("service.instance.id", "8f0c1b2e-3d4a-4b5c-9d6e-7f8091a2b3c4"),
            KeyValue::new("deployment.environment.name", "production"),
            KeyValue::new("telemetry.sdk.name", "opentelemetry"),
            KeyValue::new("telemetry.sdk.language", "rust"),
            KeyValue::new("telemetry.sdk.version", "0.33.1"),
            KeyValue::new("host.name", "checkout-7d9f8b6c5-x2k4j"),
            KeyValue::new("process.pid", 4242_i64),
        ])
        .build()
}

fn spans() -> Vec<SpanData> {
    let http = InstrumentationScope::builder("otelwright-http").with_version("0.1.0").build();
    let tracing = InstrumentationScope::builder("tracing-opentelemetry").with_version("0.34.0").build();
    let start = SystemTime::now();
    let mut spans = Vec::with_capacity(BATCH);
    for i in 0..(BATCH / 2) as u64 {
        let trace_id = TraceId::from(0x5b8e_fff7_98e3_e9ae_u128 << 64 | u128::from(i));
        let flags = TraceFlags::new(0x03);
        let server_id = SpanId::from(0x1000 + i);
        let server = SpanData {
            span_context: SpanContext::new(trace_id, server_id, flags, false, TraceState::default()),
            parent_span_id: SpanId::from(0xabc0 + i),
            parent_span_is_remote: true,
            span_kind: SpanKind::Server,
            name: Cow::Borrowed("GET /api/orders/{id}"),
            start_time: start,
            end_time: start + Duration::from_micros(850),
            attributes: vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("url.scheme", "http"),
                KeyValue::new("url.path", format!("/api/orders/{}", 100_000 + i)),
                KeyValue::new("http.route", "/api/orders/{id}"),
                KeyValue::new("network.protocol.version", "1.1"),
                KeyValue::new("server.address", "checkout.internal"),
                KeyValue::new("server.port", 8080_i64),
                KeyValue::new("client.address", format!("10.0.{}.{}", i % 256, (i * 7) % 256)),
                KeyValue::new("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0"),
                KeyValue::new("http.response.status_code", 200_i64),
            ],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: http.clone(),
        };
        let mut events = SpanEvents::default();
        events.events.push(Event::new(
            "cache miss",
            start + Duration::from_micros(120),
            vec![KeyValue::new("cache.key", format!("order:{}", 100_000 + i))],
            0,
        ));
        let child = SpanData {
            span_context: SpanContext::new(trace_id, SpanId::from(0x2000 + i), flags, false, TraceState::default()),
            parent_span_id: server_id,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Borrowed("load_order"),
            start_time: start + Duration::from_micros(100),
            end_time: start + Duration::from_micros(700),
            attributes: vec![
                KeyValue::new("code.function.name", "shop::orders::load_order"),
                KeyValue::new("order.id", 100_000 + i as i64),
                KeyValue::new("cache.hit", false),
            ],
            dropped_attributes_count: 0,
            events,
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: tracing.clone(),
        };
        spans.push(child);
        spans.push(server);
    }
    spans
}

fn records(provider: &SdkLoggerProvider) -> Vec<SdkLogRecord> {
    let logger = provider.logger("opentelemetry-appender-tracing");
    (0..BATCH as u64)
        .map(|i| {
            let mut r = logger.create_log_record();
            r.set_target("shop::orders");
            r.set_event_name("event src/orders.rs:42");
            r.set_severity_number(Severity::Info);
            r.set_severity_text("INFO");
            r.set_observed_timestamp(SystemTime::now());
            r.set_body(AnyValue::from("order placed"));
            r.add_attribute("order.id", 100_000 + i as i64);
            r.add_attribute("customer.id", format!("c-{}", 4000 + i));
            r.add_attribute("order.amount", 42.5 + i as f64);
            r.set_trace_context(
                TraceId::from(0x5b8e_fff7_98e3_e9ae_u128 << 64 | u128::from(i)),
                SpanId::from(0x1000 + i),
                Some(TraceFlags::SAMPLED),
            );
            r
        })
        .collect()
}

/// One request from otelwright's encoder.
#[inline(never)]
fn otelwright_spans(encoder: &mut TraceEncoder, batch: &[SpanData], out: &mut Vec<u8>) -> usize {
    encoder.encode(batch, out);
    out.len()
}

/// One export attempt of the tonic exporter: clone, convert, encode (into tonic's reused buffer), free.
#[inline(never)]
fn stock_grpc_spans(batch: &[SpanData], attrs: &ResourceAttributesWithSchema, buf: &mut Vec<u8>) -> usize {
    stock_http_spans(batch.to_vec(), attrs, buf)
}

/// One export of the HTTP exporter, which owns the batch: convert, encode, free.
#[inline(never)]
fn stock_http_spans(batch: Vec<SpanData>, attrs: &ResourceAttributesWithSchema, buf: &mut Vec<u8>) -> usize {
    let resource_spans = group_spans_by_resource_and_scope(batch, attrs);
    buf.clear();
    ExportTraceServiceRequest { resource_spans }.encode(buf).unwrap();
    buf.len()
}

fn encode_spans(c: &mut Criterion) {
    let resource = resource();
    let batch = spans();
    let mut g = c.benchmark_group("spans_512");
    g.throughput(Throughput::Elements(BATCH as u64));

    let mut encoder = TraceEncoder::new(&resource, AttributeLimits::default());
    let mut out = Vec::new();
    g.bench_function("otelwright", |b| b.iter(|| otelwright_spans(&mut encoder, black_box(&batch), &mut out)));

    let attrs = ResourceAttributesWithSchema::from(&resource);
    let mut buf = Vec::new();
    g.bench_function("stock_grpc", |b| b.iter(|| stock_grpc_spans(black_box(&batch), &attrs, &mut buf)));
    g.bench_function("stock_http", |b| {
        b.iter_batched(|| batch.clone(), |owned| stock_http_spans(owned, &attrs, &mut buf), BatchSize::LargeInput)
    });
    g.finish();

    let ours = otelwright_spans(&mut encoder, &batch, &mut out);
    let stock = stock_http_spans(batch.clone(), &attrs, &mut buf);
    println!("spans_512 request bytes: otelwright {ours}, stock {stock}");
}

/// What otelwright's log processor does: each record encoded as it is emitted, then the request finished.
#[inline(never)]
fn otelwright_logs(
    encoder: &mut LogEncoder,
    records: &[SdkLogRecord],
    scope: &InstrumentationScope,
    out: &mut Vec<u8>,
) -> usize {
    for r in records {
        encoder.push(r, scope);
    }
    encoder.finish(out);
    out.len()
}

/// What otelwright's log processor does as integrated: `encode_record` per record in `emit` (one buffer per
/// record, queued), then `frame` on the worker.
#[inline(never)]
fn otelwright_emit_logs(
    encoder: &mut LogEncoder,
    records: &[SdkLogRecord],
    scope: &InstrumentationScope,
    out: &mut Vec<u8>,
) -> usize {
    let queued: Vec<EncodedLogRecord> = records.iter().map(|r| encoder.encode_record(r, scope)).collect();
    encoder.frame(&queued, out);
    out.len()
}

/// What the SDK's batch log processor and exporter do: clone and box each record in `emit`, then convert, encode
/// and free.
#[inline(never)]
fn stock_logs(
    records: &[SdkLogRecord],
    scope: &InstrumentationScope,
    attrs: &ResourceAttributesWithSchema,
    buf: &mut Vec<u8>,
) -> usize {
    let queued: Vec<Box<(SdkLogRecord, InstrumentationScope)>> =
        records.iter().map(|r| Box::new((r.clone(), scope.clone()))).collect();
    let pairs: Vec<(&SdkLogRecord, &InstrumentationScope)> = queued.iter().map(|b| (&b.0, &b.1)).collect();
    let resource_logs = group_logs_by_resource_and_scope(&LogBatch::new(&pairs), attrs);
    buf.clear();
    ExportLogsServiceRequest { resource_logs }.encode(buf).unwrap();
    buf.len()
}

fn encode_logs(c: &mut Criterion) {
    let resource = resource();
    let provider = SdkLoggerProvider::builder().build();
    let records = records(&provider);
    let scope = InstrumentationScope::builder("opentelemetry-appender-tracing").with_version("0.33.1").build();
    let mut g = c.benchmark_group("logs_512");
    g.throughput(Throughput::Elements(BATCH as u64));

    let mut encoder = LogEncoder::new(&resource, AttributeLimits::default());
    let mut out = Vec::new();
    g.bench_function("otelwright", |b| b.iter(|| otelwright_logs(&mut encoder, black_box(&records), &scope, &mut out)));
    g.bench_function("otelwright_emit", |b| {
        b.iter(|| otelwright_emit_logs(&mut encoder, black_box(&records), &scope, &mut out))
    });

    let attrs = ResourceAttributesWithSchema::from(&resource);
    let mut buf = Vec::new();
    g.bench_function("stock", |b| b.iter(|| stock_logs(black_box(&records), &scope, &attrs, &mut buf)));
    g.finish();

    let ours = otelwright_logs(&mut encoder, &records, &scope, &mut out);
    let stock = stock_logs(&records, &scope, &attrs, &mut buf);
    println!(
        "logs_512 request bytes: otelwright {ours}, stock {stock} (ours adds time_unix_nano, drops the synthetic event_name)"
    );
}

criterion_group!(benches, encode_spans, encode_logs);
criterion_main!(benches);
