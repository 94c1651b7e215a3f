//! The real opentelemetry-otlp HTTP exporters (JSON and protobuf, plain and
//! gzip) sending SDK-produced spans, logs and metrics to the receiver: checks
//! that what those exporters put on the wire decodes here.

use std::time::Duration;

use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Compression, Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use otelwright_receiver::{MetricKind, Receiver, Signal, Transport};

const WAIT: Duration = Duration::from_secs(20);

fn resource() -> Resource {
    Resource::builder()
        .with_service_name("exporter-svc")
        .with_attribute(KeyValue::new("deployment.environment.name", "test"))
        .build()
}

/// Emits two spans, one log and a few metrics through the SDK with OTLP/HTTP
/// exporters, then flushes and shuts everything down. Blocking: run it off
/// the async runtime.
fn export_everything(base: &str, protocol: Protocol, gzip: bool) {
    macro_rules! exporter {
        ($ty:ty, $path:literal) => {{
            let mut builder = <$ty>::builder()
                .with_http()
                .with_protocol(protocol)
                .with_endpoint(format!("{base}{}", $path))
                .with_timeout(Duration::from_secs(10));
            if gzip {
                builder = builder.with_compression(Compression::Gzip);
            }
            builder.build().expect("build exporter")
        }};
    }

    // Traces: a parent and a child with assorted attribute types.
    let tracer_provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter!(opentelemetry_otlp::SpanExporter, "/v1/traces"))
        .with_resource(resource())
        .build();
    let tracer = tracer_provider.tracer("exporter-test");
    let parent = tracer.span_builder("parent").with_kind(SpanKind::Server).start(&tracer);
    let parent_cx = Context::current_with_span(parent);
    let mut child = tracer.start_with_context("child", &parent_cx);
    child.set_attribute(KeyValue::new("s", "text"));
    child.set_attribute(KeyValue::new("i", -42_i64));
    child.set_attribute(KeyValue::new("big", i64::MAX));
    child.set_attribute(KeyValue::new("f", 2.5_f64));
    child.set_attribute(KeyValue::new("b", true));
    child.set_attribute(KeyValue::new("arr", opentelemetry::Value::Array(vec![1_i64, 2, 3].into())));
    child.add_event("something happened", vec![KeyValue::new("n", 1_i64)]);
    child.set_status(Status::error("bad thing"));
    let child_ids = child.span_context().clone();
    child.end();
    parent_cx.span().end();
    tracer_provider.shutdown().expect("trace shutdown");

    // Logs: one record with a body, attributes and a trace context.
    let logger_provider = SdkLoggerProvider::builder()
        .with_simple_exporter(exporter!(opentelemetry_otlp::LogExporter, "/v1/logs"))
        .with_resource(resource())
        .build();
    let logger = logger_provider.logger("exporter-test");
    let mut record = logger.create_log_record();
    record.set_body("log body".into());
    record.set_severity_number(Severity::Warn);
    record.set_severity_text("WARN");
    record.add_attribute("user.id", 7_i64);
    record.set_trace_context(child_ids.trace_id(), child_ids.span_id(), Some(child_ids.trace_flags()));
    logger.emit(record);
    logger_provider.shutdown().expect("log shutdown");

    // Metrics: counter, up-down counter, gauge, histogram.
    let meter_provider = SdkMeterProvider::builder()
        .with_periodic_exporter(exporter!(opentelemetry_otlp::MetricExporter, "/v1/metrics"))
        .with_resource(resource())
        .build();
    let meter = meter_provider.meter("exporter-test");
    let attrs = [KeyValue::new("route", "/a")];
    meter.u64_counter("requests").build().add(3, &attrs);
    meter.i64_up_down_counter("queue").build().add(-2, &attrs);
    meter.f64_gauge("temperature").build().record(21.5, &attrs);
    let histogram = meter.f64_histogram("latency").build();
    histogram.record(1.0, &attrs);
    histogram.record(30.0, &attrs);
    meter_provider.force_flush().expect("metric flush");
    meter_provider.shutdown().expect("metric shutdown");
}

async fn run(protocol: Protocol, transport: Transport, gzip: bool) {
    let receiver = Receiver::start().await.expect("start");
    let base = receiver.http_endpoint();
    tokio::task::spawn_blocking(move || export_everything(&base, protocol, gzip)).await.expect("exporting thread");

    let spans = receiver.wait_for_spans(|s| s.len() >= 2, WAIT).await.expect("two spans");
    let parent = spans.iter().find(|s| s.name() == "parent").expect("parent");
    let child = spans.iter().find(|s| s.name() == "child").expect("child");
    assert_eq!(parent.resource_str("service.name").as_deref(), Some("exporter-svc"));
    assert_eq!(parent.resource_str("deployment.environment.name").as_deref(), Some("test"));
    assert_eq!(parent.scope_name(), "exporter-test");
    assert_eq!(parent.parent_span_id_hex(), None);
    assert_eq!(parent.kind(), 2);
    assert_eq!(child.parent_span_id_hex(), Some(parent.span_id_hex()));
    assert_eq!(child.trace_id_hex(), parent.trace_id_hex());
    assert_eq!(child.trace_id_hex().len(), 32);
    assert_eq!(child.span_id_hex().len(), 16);
    assert_eq!(child.attr_str("s").as_deref(), Some("text"));
    assert_eq!(child.attr_str("i").as_deref(), Some("-42"));
    assert_eq!(child.attr_str("big"), Some(i64::MAX.to_string()));
    assert_eq!(child.attr_str("f").as_deref(), Some("2.5"));
    assert_eq!(child.attr_str("b").as_deref(), Some("true"));
    assert_eq!(child.attr_str("arr").as_deref(), Some("[1, 2, 3]"));
    assert_eq!(child.event_names(), vec!["something happened"]);
    assert_eq!(child.status_code(), 2);
    assert!(child.span.end_time_unix_nano >= child.span.start_time_unix_nano);
    assert!(child.span.start_time_unix_nano > 1_600_000_000_000_000_000);

    let logs = receiver.wait_for_logs(|l| !l.is_empty(), WAIT).await.expect("a log");
    let log = &logs[0];
    assert_eq!(log.body_str().as_deref(), Some("log body"));
    assert_eq!(log.severity_number(), 13);
    assert_eq!(log.severity_text(), "WARN");
    assert_eq!(log.attr_str("user.id").as_deref(), Some("7"));
    assert_eq!(log.trace_id_hex(), Some(child.trace_id_hex()));
    assert_eq!(log.span_id_hex(), Some(child.span_id_hex()));
    assert_eq!(log.resource_str("service.name").as_deref(), Some("exporter-svc"));

    let metrics = receiver.wait_for_metrics(|m| m.len() >= 4, WAIT).await.expect("four metrics");
    let by_name = |name: &str| metrics.iter().find(|m| m.name() == name).unwrap_or_else(|| panic!("metric {name}"));
    let requests = by_name("requests");
    assert_eq!(requests.kind(), MetricKind::Sum);
    assert_eq!(requests.is_monotonic(), Some(true));
    assert_eq!(requests.values(), vec![3.0]);
    assert_eq!(requests.number_points()[0].attr_str("route").as_deref(), Some("/a"));
    assert_eq!(by_name("queue").values(), vec![-2.0]);
    assert_eq!(by_name("queue").is_monotonic(), Some(false));
    assert_eq!(by_name("temperature").kind(), MetricKind::Gauge);
    assert_eq!(by_name("temperature").values(), vec![21.5]);
    let latency = by_name("latency").histogram_points();
    assert_eq!(latency.len(), 1);
    assert_eq!(latency[0].count, 2);
    assert_eq!(latency[0].sum, Some(31.0));
    assert_eq!(latency[0].min, Some(1.0));
    assert_eq!(latency[0].max, Some(30.0));
    assert_eq!(latency[0].bucket_counts.iter().sum::<u64>(), 2);
    assert_eq!(latency[0].bucket_counts.len(), latency[0].explicit_bounds.len() + 1);
    assert_eq!(by_name("latency").resource_str("service.name").as_deref(), Some("exporter-svc"));

    let all = [spans.len(), logs.len(), metrics.len()];
    assert!(all.iter().all(|n| *n > 0));
    assert!(spans.iter().all(|s| s.transport == transport));
    assert!(logs.iter().all(|l| l.transport == transport));
    assert!(metrics.iter().all(|m| m.transport == transport));
    let requests = receiver.requests();
    for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
        assert!(requests.iter().any(|r| r.signal == signal), "no {signal} request");
    }
    assert!(requests.iter().all(|r| r.transport == transport && r.gzip == gzip), "{requests:?}");
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_json_exporter() {
    run(Protocol::HttpJson, Transport::HttpJson, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_json_exporter_with_gzip() {
    run(Protocol::HttpJson, Transport::HttpJson, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_exporter_with_gzip() {
    run(Protocol::HttpBinary, Transport::HttpProtobuf, true).await;
}
