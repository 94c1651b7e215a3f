//! `otelwright::init` from `OTEL_*` variables: per-signal protocols and endpoints are honoured (traces over gRPC,
//! logs over HTTP/JSON, metrics over HTTP/protobuf), the global meter and propagators are installed, a bad value
//! is reported once as a WARN log record naming the variable, and a second `init` is refused.

use std::time::Duration;

use otelwright_receiver::{Receiver, Transport};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread")]
async fn init_installs_everything_from_env_variables() {
    let receiver = Receiver::start().await.unwrap();
    let logs_url = format!("{}/v1/logs", receiver.http_endpoint());
    let vars = [
        ("OTEL_SERVICE_NAME", "global-init".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.http_endpoint()),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc".to_owned()),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.grpc_endpoint()),
        ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json".to_owned()),
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", logs_url),
        ("OTEL_METRIC_EXPORT_INTERVAL", "200".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ("OTEL_BLRP_SCHEDULE_DELAY", "100".to_owned()),
        ("OTEL_TRACES_SAMPLER", "sometimes".to_owned()),
        ("OTELWRIGHT_LOG_FORMAT", "json".to_owned()),
    ];
    let config = otelwright::Config::from_env_vars(vars);
    assert_eq!(config.warnings().len(), 1);
    let telemetry = otelwright::init(config).expect("init");

    let mut fields: Vec<String> =
        opentelemetry::global::get_text_map_propagator(|p| p.fields().map(str::to_owned).collect());
    fields.sort();
    assert_eq!(fields, ["baggage", "traceparent", "tracestate"], "OTEL_PROPAGATORS default is installed globally");

    let counter = opentelemetry::global::meter("global").u64_counter("global.calls").build();
    tracing::info_span!("global-work").in_scope(|| {
        tracing::info!("inside global work");
        counter.add(5, &[]);
    });

    let spans = receiver.wait_for_spans(|s| s.iter().any(|s| s.name() == "global-work"), WAIT).await.unwrap();
    let span = spans.iter().find(|s| s.name() == "global-work").unwrap();
    assert_eq!(span.transport, Transport::Grpc);
    assert_eq!(span.resource_str("service.name").as_deref(), Some("global-init"));

    let logs = receiver
        .wait_for_logs(
            |l| {
                l.iter().any(|l| l.body_str().as_deref() == Some("inside global work"))
                    && l.iter().any(|l| l.attr_str("variable").as_deref() == Some("OTEL_TRACES_SAMPLER"))
            },
            WAIT,
        )
        .await
        .unwrap();
    let warning = logs.iter().find(|l| l.attr_str("variable").as_deref() == Some("OTEL_TRACES_SAMPLER")).unwrap();
    assert_eq!(warning.severity_text(), "WARN");
    assert_eq!(warning.attr_str("value").as_deref(), Some("sometimes"));
    assert_eq!(logs.iter().filter(|l| l.attr_str("variable").is_some()).count(), 1, "warned once");
    let log = logs.iter().find(|l| l.body_str().as_deref() == Some("inside global work")).unwrap();
    assert_eq!(log.transport, Transport::HttpJson);
    assert_eq!(log.trace_id_hex(), Some(span.trace_id_hex()));

    let metrics = receiver
        .wait_for_metrics(|m| m.iter().any(|m| m.name() == "global.calls" && m.values() == [5.0]), WAIT)
        .await
        .unwrap();
    assert!(metrics.iter().filter(|m| m.name() == "global.calls").all(|m| m.transport == Transport::HttpProtobuf));

    let again = otelwright::init(otelwright::Config::default());
    assert!(matches!(again, Err(otelwright::Error::SubscriberAlreadySet)), "{again:?}");

    let report = telemetry.shutdown().await;
    assert!(report.is_clean(), "{report:?}");
    receiver.shutdown().await;
}
