//! Builders for small OTLP export requests shared by the integration tests.

#![allow(dead_code)]

use otelwright_receiver::proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use otelwright_receiver::proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use otelwright_receiver::proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otelwright_receiver::proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value::Value};
use otelwright_receiver::proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use otelwright_receiver::proto::tonic::metrics::v1::{
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric::Data,
    number_data_point,
};
use otelwright_receiver::proto::tonic::resource::v1::Resource;
use otelwright_receiver::proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

pub(crate) const TRACE_ID: [u8; 16] =
    [0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c];
pub(crate) const SPAN_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];

pub(crate) fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), key_strindex: 0 }
}

pub(crate) fn string(s: &str) -> Value {
    Value::StringValue(s.into())
}

pub(crate) fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", string(service)), kv("service.instance.id", Value::IntValue(7))],
        ..Default::default()
    })
}

pub(crate) fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope { name: "test-scope".into(), version: "1.0".into(), ..Default::default() })
}

pub(crate) fn traces(service: &str, span_name: &str) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(service),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans: vec![Span {
                    trace_id: TRACE_ID.to_vec(),
                    span_id: SPAN_ID.to_vec(),
                    name: span_name.into(),
                    kind: 2,
                    start_time_unix_nano: 1_700_000_000_000_000_000,
                    end_time_unix_nano: 1_700_000_000_100_000_000,
                    attributes: vec![kv("http.route", string("/checkout")), kv("retry", Value::BoolValue(true))],
                    ..Default::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

pub(crate) fn logs(service: &str, body: &str) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(service),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![LogRecord {
                    time_unix_nano: 1_700_000_000_000_000_000,
                    severity_number: 9,
                    severity_text: "INFO".into(),
                    body: Some(AnyValue { value: Some(string(body)) }),
                    attributes: vec![kv("user.id", Value::IntValue(42))],
                    trace_id: TRACE_ID.to_vec(),
                    span_id: SPAN_ID.to_vec(),
                    ..Default::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

pub(crate) fn metrics(service: &str) -> ExportMetricsServiceRequest {
    let counter = Metric {
        name: "requests".into(),
        unit: "1".into(),
        data: Some(Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                attributes: vec![kv("route", string("/a"))],
                value: Some(number_data_point::Value::AsInt(3)),
                ..Default::default()
            }],
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Default::default()
    };
    let histogram = Metric {
        name: "latency".into(),
        unit: "ms".into(),
        data: Some(Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: vec![kv("route", string("/a"))],
                count: 3,
                sum: Some(17.5),
                bucket_counts: vec![1, 2, 0],
                explicit_bounds: vec![5.0, 10.0],
                ..Default::default()
            }],
            aggregation_temporality: 2,
        })),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(service),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![counter, histogram],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}
