//! OTLP/gRPC over a real socket, using opentelemetry-proto's generated tonic
//! clients, plain and gzip-compressed.

use crate::common;

use std::time::Duration;

use otelwright_receiver::proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use otelwright_receiver::proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use otelwright_receiver::proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use otelwright_receiver::{MetricKind, Receiver, RequestInfo, Signal, Transport};
use tonic::codec::CompressionEncoding;

const WAIT: Duration = Duration::from_secs(10);

async fn send_all(receiver: &Receiver, gzip: bool) {
    let endpoint = receiver.grpc_endpoint();
    let mut traces = TraceServiceClient::connect(endpoint.clone()).await.expect("connect traces");
    let mut logs = LogsServiceClient::connect(endpoint.clone()).await.expect("connect logs");
    let mut metrics = MetricsServiceClient::connect(endpoint).await.expect("connect metrics");
    if gzip {
        traces = traces.send_compressed(CompressionEncoding::Gzip);
        logs = logs.send_compressed(CompressionEncoding::Gzip);
        metrics = metrics.send_compressed(CompressionEncoding::Gzip);
    }
    let response = traces.export(common::traces("grpc-svc", "grpc-span")).await.expect("export traces").into_inner();
    assert_eq!(response.partial_success, None);
    logs.export(common::logs("grpc-svc", "hello over grpc")).await.expect("export logs");
    metrics.export(common::metrics("grpc-svc")).await.expect("export metrics");
}

#[tokio::test]
async fn grpc_round_trip_of_all_signals() {
    let receiver = Receiver::start().await.expect("start");
    send_all(&receiver, false).await;

    let spans = receiver.wait_for_spans(|s| !s.is_empty(), WAIT).await.expect("span");
    let span = &spans[0];
    assert_eq!(span.name(), "grpc-span");
    assert_eq!(span.transport, Transport::Grpc);
    assert_eq!(span.resource_str("service.name").as_deref(), Some("grpc-svc"));
    assert_eq!(span.resource_str("service.instance.id").as_deref(), Some("7"));
    assert_eq!(span.scope_name(), "test-scope");
    assert_eq!(span.trace_id_hex(), "5b8efff798038103d269b633813fc60c");
    assert_eq!(span.span_id_hex(), "eee19b7ec3c1b174");
    assert_eq!(span.parent_span_id_hex(), None);
    assert_eq!(span.attr_str("http.route").as_deref(), Some("/checkout"));
    assert_eq!(span.attr_str("retry").as_deref(), Some("true"));
    assert_eq!(span.kind(), 2);

    let logs = receiver.wait_for_logs(|l| !l.is_empty(), WAIT).await.expect("log");
    let log = &logs[0];
    assert_eq!(log.body_str().as_deref(), Some("hello over grpc"));
    assert_eq!(log.resource_str("service.name").as_deref(), Some("grpc-svc"));
    assert_eq!(log.attr_str("user.id").as_deref(), Some("42"));
    assert_eq!(log.trace_id_hex().as_deref(), Some("5b8efff798038103d269b633813fc60c"));
    assert_eq!(log.span_id_hex().as_deref(), Some("eee19b7ec3c1b174"));
    assert_eq!(log.severity_number(), 9);

    let metrics = receiver.wait_for_metrics(|m| m.len() >= 2, WAIT).await.expect("metrics");
    let counter = metrics.iter().find(|m| m.name() == "requests").unwrap();
    assert_eq!(counter.kind(), MetricKind::Sum);
    assert_eq!(counter.is_monotonic(), Some(true));
    assert_eq!(counter.values(), vec![3.0]);
    assert_eq!(counter.number_points()[0].attr_str("route").as_deref(), Some("/a"));
    assert_eq!(counter.resource_str("service.name").as_deref(), Some("grpc-svc"));
    let histogram = metrics.iter().find(|m| m.name() == "latency").unwrap();
    let points = histogram.histogram_points();
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].count, 3);
    assert_eq!(points[0].sum, Some(17.5));
    assert_eq!(points[0].bucket_counts, vec![1, 2, 0]);
    assert_eq!(points[0].explicit_bounds, vec![5.0, 10.0]);

    let mut requests = receiver.requests();
    requests.sort_by_key(|r| r.signal as u8);
    assert_eq!(
        requests,
        vec![
            RequestInfo { signal: Signal::Traces, transport: Transport::Grpc, items: 1, gzip: false },
            RequestInfo { signal: Signal::Metrics, transport: Transport::Grpc, items: 2, gzip: false },
            RequestInfo { signal: Signal::Logs, transport: Transport::Grpc, items: 1, gzip: false },
        ]
    );
    receiver.shutdown().await;
}

#[tokio::test]
async fn grpc_accepts_gzip() {
    let receiver = Receiver::start().await.expect("start");
    send_all(&receiver, true).await;

    let requests = receiver.wait_for_requests(|r| r.len() == 3, WAIT).await.expect("three requests");
    assert!(requests.iter().all(|r| r.gzip && r.transport == Transport::Grpc));
    assert_eq!(receiver.spans()[0].resource_str("service.name").as_deref(), Some("grpc-svc"));
    assert_eq!(receiver.logs()[0].body_str().as_deref(), Some("hello over grpc"));
    assert_eq!(receiver.metrics().len(), 2);
    receiver.shutdown().await;
}
