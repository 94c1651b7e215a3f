//! For each OTLP protocol (gRPC, HTTP/protobuf, HTTP/JSON, and gzip on both transports) a service set up with
//! otelwright exports a span, a log record inside it, a counter and a histogram over real sockets to
//! otelwright-receiver. Asserts the resource, the log's trace and span ids, the metric values, and that the data
//! really travelled over the protocol asked for.

use std::time::Duration;

use opentelemetry::KeyValue;
use otelwright::{Compression, Config, LogFormat, Protocol};
use otelwright_receiver::{Receiver, Transport};

const WAIT: Duration = Duration::from_secs(20);

async fn roundtrip(protocol: Protocol, compression: Compression) {
    let receiver = Receiver::start().await.expect("receiver starts");
    let endpoint = match protocol {
        Protocol::Grpc => receiver.grpc_endpoint(),
        _ => receiver.http_endpoint(),
    };
    let service = format!("e2e-{protocol:?}-{compression:?}").to_lowercase();
    let config = Config::from_env_vars([("OTEL_RESOURCE_ATTRIBUTES", "team=payments,service.namespace=shop")])
        .service_name(&service)
        .service_version("1.2.3")
        .deployment_environment("test")
        .protocol(protocol)
        .compression(compression)
        .otlp_endpoint(endpoint)
        .log_format(LogFormat::Off);
    let telemetry = otelwright::build(config).expect("telemetry builds");

    let meter = telemetry.meter("e2e");
    let orders = meter.u64_counter("shop.orders").with_unit("{order}").build();
    let value = meter.f64_histogram("shop.order.value").with_unit("USD").build();
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        let span = tracing::info_span!("checkout", order_id = "o-17");
        let _entered = span.enter();
        tracing::info!(order_id = "o-17", items = 3_i64, "order placed");
        orders.add(2, &[KeyValue::new("payment.method", "card")]);
        orders.add(1, &[KeyValue::new("payment.method", "card")]);
        value.record(12.5, &[]);
        value.record(17.5, &[]);
    });
    let errors = telemetry.flush().await;
    assert!(errors.is_empty(), "flush errors: {errors:?}");

    let spans = receiver.wait_for_spans(|s| s.iter().any(|s| s.name() == "checkout"), WAIT).await.unwrap();
    let span = spans.iter().find(|s| s.name() == "checkout").unwrap();
    for (key, want) in [
        ("service.name", service.as_str()),
        ("service.version", "1.2.3"),
        ("service.namespace", "shop"),
        ("deployment.environment.name", "test"),
        ("team", "payments"),
        ("telemetry.sdk.language", "rust"),
        ("telemetry.sdk.name", "opentelemetry"),
        ("telemetry.distro.name", "otelwright"),
        ("process.runtime.name", "rustc"),
    ] {
        assert_eq!(span.resource_str(key).as_deref(), Some(want), "resource {key}");
    }
    assert_eq!(span.resource_str("process.pid"), Some(std::process::id().to_string()));
    for key in ["host.name", "host.arch", "os.type", "service.instance.id", "telemetry.sdk.version"] {
        assert!(span.resource_str(key).is_some_and(|v| !v.is_empty()), "resource {key} is missing");
    }
    assert_eq!(span.attr_str("order_id").as_deref(), Some("o-17"));

    let logs = receiver
        .wait_for_logs(|l| l.iter().any(|l| l.body_str().as_deref() == Some("order placed")), WAIT)
        .await
        .unwrap();
    let log = logs.iter().find(|l| l.body_str().as_deref() == Some("order placed")).unwrap();
    assert_eq!(log.trace_id_hex().as_deref(), Some(span.trace_id_hex().as_str()), "log carries the trace id");
    assert_eq!(log.span_id_hex().as_deref(), Some(span.span_id_hex().as_str()), "log carries the span id");
    assert_eq!(log.attr_str("order_id").as_deref(), Some("o-17"));
    assert_eq!(log.severity_text(), "INFO");
    assert_eq!(log.resource_str("service.name").as_deref(), Some(service.as_str()));

    let metrics = receiver
        .wait_for_metrics(
            |m| m.iter().any(|m| m.name() == "shop.orders") && m.iter().any(|m| m.name() == "shop.order.value"),
            WAIT,
        )
        .await
        .unwrap();
    let counter = metrics.iter().rev().find(|m| m.name() == "shop.orders").unwrap();
    assert_eq!(counter.unit(), "{order}");
    assert_eq!(counter.is_monotonic(), Some(true));
    let points = counter.number_points();
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].value, 3.0);
    assert_eq!(points[0].attr_str("payment.method").as_deref(), Some("card"));
    let histogram = metrics.iter().rev().find(|m| m.name() == "shop.order.value").unwrap();
    let h = &histogram.histogram_points()[0];
    assert_eq!((h.count, h.sum), (2, Some(30.0)));
    assert_eq!((h.min, h.max), (Some(12.5), Some(17.5)));
    assert_eq!(histogram.resource_str("team").as_deref(), Some("payments"));

    let want = match protocol {
        Protocol::Grpc => Transport::Grpc,
        Protocol::HttpProtobuf => Transport::HttpProtobuf,
        Protocol::HttpJson => Transport::HttpJson,
    };
    let requests = receiver.requests();
    assert!(requests.len() >= 3, "{requests:?}");
    for r in &requests {
        assert_eq!(r.transport, want, "{r:?}");
        assert_eq!(r.gzip, compression == Compression::Gzip, "{r:?}");
    }

    let report = telemetry.shutdown().await;
    assert!(report.is_clean(), "{report:?}");
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc() {
    roundtrip(Protocol::Grpc, Compression::None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_gzip() {
    roundtrip(Protocol::Grpc, Compression::Gzip).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http_protobuf() {
    roundtrip(Protocol::HttpProtobuf, Compression::None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http_protobuf_gzip() {
    roundtrip(Protocol::HttpProtobuf, Compression::Gzip).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http_json() {
    roundtrip(Protocol::HttpJson, Compression::None).await;
}

/// A current_thread service (the Tokio default for `#[tokio::main(flavor = "current_thread")]`) exports too:
/// gRPC export runs on otelwright's own runtime, not the application's.
#[tokio::test(flavor = "current_thread")]
async fn grpc_from_a_current_thread_runtime() {
    roundtrip(Protocol::Grpc, Compression::None).await;
}
