//! OTLP over TLS end to end: otelwright configured only through the standard variables
//! (`OTEL_EXPORTER_OTLP_CERTIFICATE`, `_CLIENT_CERTIFICATE`, `_CLIENT_KEY`, `_INSECURE`) exports to a TLS
//! otelwright-receiver over real sockets, on every protocol, with and without mutual TLS. The failures are checked
//! too: an untrusted server or a missing client certificate delivers nothing and is counted as failed, a bad file
//! from the environment is a warning, and a bad file set in code fails `build`.

use std::path::Path;
use std::time::Duration;

use otelwright::{Config, Error, LogFormat, Protocol, Telemetry};
use otelwright_receiver::{Receiver, ReceiverConfig, ReceiverTls, TestPki, TestPkiFiles};

const WAIT: Duration = Duration::from_secs(20);

fn endpoint(receiver: &Receiver, protocol: Protocol) -> String {
    match protocol {
        Protocol::Grpc => receiver.grpc_endpoint(),
        _ => receiver.http_endpoint(),
    }
}

/// A fresh PKI written to its own temporary directory.
fn pki(name: &str) -> (TestPki, TestPkiFiles) {
    let dir = std::env::temp_dir().join(format!("otelwright-e2e-tls-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pki = TestPki::generate().expect("test PKI");
    let files = pki.write_to(&dir).expect("PEM files written");
    (pki, files)
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Builds telemetry from the given variables only (plus a short timeout so failures are quick).
fn telemetry(vars: Vec<(&str, String)>) -> Telemetry {
    let mut vars = vars;
    vars.push(("OTEL_EXPORTER_OTLP_TIMEOUT", "3000".to_owned()));
    let config = Config::from_env_vars(vars).log_format(LogFormat::Off);
    assert!(config.warnings().is_empty(), "unexpected warnings: {:?}", config.warnings());
    otelwright::build(config).expect("telemetry builds")
}

/// A span with a log record inside it and one counter point.
fn emit(telemetry: &Telemetry, name: &'static str) {
    let counter = telemetry.meter("e2e-tls").u64_counter("tls.exports").build();
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        let span = tracing::info_span!("tls-span", case = name);
        let _entered = span.enter();
        tracing::info!(case = name, "over tls");
        counter.add(1, &[]);
    });
}

async fn assert_all_signals_arrive(receiver: &Receiver, telemetry: &Telemetry, case: &str) {
    let errors = telemetry.flush().await;
    assert!(errors.is_empty(), "{case}: flush errors {errors:?}");
    let spans = receiver.wait_for_spans(|s| s.iter().any(|s| s.name() == "tls-span"), WAIT).await;
    let span = spans.unwrap_or_else(|_| panic!("{case}: no span arrived"));
    let span = span.iter().find(|s| s.name() == "tls-span").unwrap();
    assert_eq!(span.attr_str("case").as_deref(), Some(case));
    let logs = receiver.wait_for_logs(|l| l.iter().any(|l| l.body_str().as_deref() == Some("over tls")), WAIT).await;
    let logs = logs.unwrap_or_else(|_| panic!("{case}: no log record arrived"));
    let log = logs.iter().find(|l| l.body_str().as_deref() == Some("over tls")).unwrap();
    assert_eq!(log.trace_id_hex().as_deref(), Some(span.trace_id_hex().as_str()));
    let metrics = receiver.wait_for_metrics(|m| m.iter().any(|m| m.name() == "tls.exports"), WAIT).await;
    assert!(metrics.is_ok(), "{case}: no metric arrived");
    let stats = telemetry.export_stats();
    assert_eq!(stats.traces.failed + stats.logs.failed + stats.metrics.failed, 0, "{case}: {stats:?}");
}

/// Nothing reaches the receiver and every signal's exporter counted the failure.
async fn assert_nothing_arrives(receiver: &Receiver, telemetry: &Telemetry, case: &str) {
    let _ = telemetry.flush().await;
    let stats = telemetry.export_stats();
    assert!(stats.traces.failed > 0, "{case}: span export not counted as failed: {stats:?}");
    assert!(stats.logs.failed > 0, "{case}: log export not counted as failed: {stats:?}");
    assert!(stats.metrics.failed > 0, "{case}: metric export not counted as failed: {stats:?}");
    assert_eq!(stats.traces.exported + stats.logs.exported + stats.metrics.exported, 0, "{case}: {stats:?}");
    assert!(receiver.spans().is_empty() && receiver.logs().is_empty(), "{case}: data got through");
    assert!(receiver.metrics().is_empty(), "{case}: metrics got through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protocol_exports_over_tls_trusting_the_configured_ca() {
    let (pki, files) = pki("server-only");
    let receiver = Receiver::start_tls(ReceiverConfig::default(), ReceiverTls::server_only(&pki)).await.unwrap();
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf, Protocol::HttpJson] {
        receiver.clear();
        let case = protocol.as_str();
        let endpoint = endpoint(&receiver, protocol);
        assert!(endpoint.starts_with("https://"), "{endpoint}");
        let t = telemetry(vec![
            ("OTEL_SERVICE_NAME", "tls-e2e".to_owned()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", case.to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&files.ca)),
        ]);
        emit(&t, case);
        assert_all_signals_arrive(&receiver, &t, case).await;
        t.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_sends_the_client_certificate_from_the_environment() {
    let (pki, files) = pki("mutual");
    let receiver = Receiver::start_tls(ReceiverConfig::default(), ReceiverTls::mutual(&pki)).await.unwrap();
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        receiver.clear();
        let case = protocol.as_str();
        // Generic CA, per-signal client identity for traces and generic for the rest: both levels are honoured.
        let t = telemetry(vec![
            ("OTEL_EXPORTER_OTLP_PROTOCOL", case.to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(&receiver, protocol)),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&files.ca)),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", path(&files.client_cert)),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&files.client_key)),
            ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", path(&files.client_cert)),
            ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", path(&files.client_key)),
        ]);
        emit(&t, case);
        assert_all_signals_arrive(&receiver, &t, case).await;
        t.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_without_a_client_certificate_delivers_nothing() {
    let (pki, files) = pki("mutual-missing");
    let receiver = Receiver::start_tls(ReceiverConfig::default(), ReceiverTls::mutual(&pki)).await.unwrap();
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let case = protocol.as_str();
        let t = telemetry(vec![
            ("OTEL_EXPORTER_OTLP_PROTOCOL", case.to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(&receiver, protocol)),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&files.ca)),
        ]);
        emit(&t, case);
        assert_nothing_arrives(&receiver, &t, case).await;
        t.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_outside_the_trusted_roots_is_refused() {
    let (server_pki, _) = pki("untrusted-server");
    let (_, other_files) = pki("other-ca");
    let receiver = Receiver::start_tls(ReceiverConfig::default(), ReceiverTls::server_only(&server_pki)).await.unwrap();
    for protocol in [Protocol::Grpc, Protocol::HttpJson] {
        let case = protocol.as_str();
        let t = telemetry(vec![
            ("OTEL_EXPORTER_OTLP_PROTOCOL", case.to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(&receiver, protocol)),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&other_files.ca)),
        ]);
        emit(&t, case);
        assert_nothing_arrives(&receiver, &t, case).await;
        t.shutdown().await;
    }
    // Without a CA file the system's trust store is used, and the throwaway CA is not in it.
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let case = protocol.as_str();
        let t = telemetry(vec![
            ("OTEL_EXPORTER_OTLP_PROTOCOL", case.to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(&receiver, protocol)),
        ]);
        emit(&t, case);
        assert_nothing_arrives(&receiver, &t, &format!("{case}, system trust store")).await;
        t.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheme_less_endpoints_follow_insecure() {
    // host:port means https unless OTEL_EXPORTER_OTLP_INSECURE=true.
    let (pki, files) = pki("scheme-less");
    let tls = Receiver::start_tls(ReceiverConfig::default(), ReceiverTls::server_only(&pki)).await.unwrap();
    let t = telemetry(vec![
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", tls.grpc_addr().to_string()),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", path(&files.ca)),
    ]);
    emit(&t, "scheme-less tls");
    assert_all_signals_arrive(&tls, &t, "scheme-less tls").await;
    t.shutdown().await;

    let plain = Receiver::start().await.unwrap();
    let t = telemetry(vec![
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", plain.grpc_addr().to_string()),
        ("OTEL_EXPORTER_OTLP_INSECURE", "true".to_owned()),
    ]);
    emit(&t, "scheme-less insecure");
    assert_all_signals_arrive(&plain, &t, "scheme-less insecure").await;
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_tls_files_warn_from_the_environment_and_fail_from_code() {
    let (_, files) = pki("bad-files");
    let config = Config::from_env_vars([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:4318".to_owned()),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem".to_owned()),
        // A key where a certificate belongs, and a certificate where the key belongs.
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", path(&files.client_key)),
        ("OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY", path(&files.client_cert)),
    ]);
    let warned: Vec<&str> = config.warnings().iter().map(|w| w.variable.as_str()).collect();
    assert_eq!(
        warned,
        [
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY"
        ]
    );
    assert!(config.otlp(otelwright::Signal::Traces).tls == otelwright::TlsFiles::default());
    let t = otelwright::build(config.log_format(LogFormat::Off)).expect("bad env files still build");
    t.shutdown().await;

    // Half a client identity from the environment is named in a warning.
    let config = Config::from_env_vars([("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&files.client_key))]);
    let warned: Vec<&str> = config.warnings().iter().map(|w| w.variable.as_str()).collect();
    assert_eq!(warned, ["OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"]);

    let code =
        |config: Config| otelwright::build(config.log_format(LogFormat::Off).otlp_endpoint("https://127.0.0.1:1"));
    match code(Config::from_env_vars::<&str, &str>([]).otlp_certificate("/nonexistent/ca.pem")) {
        Err(Error::Tls { path, .. }) => assert_eq!(path, Path::new("/nonexistent/ca.pem")),
        other => panic!("expected Error::Tls, got {:?}", other.map(|_| "telemetry")),
    }
    match code(Config::from_env_vars::<&str, &str>([]).otlp_client_identity(&files.client_cert, &files.ca)) {
        Err(Error::Tls { reason, .. }) => assert!(reason.contains("private key"), "{reason}"),
        other => panic!("expected Error::Tls, got {:?}", other.map(|_| "telemetry")),
    }
}
