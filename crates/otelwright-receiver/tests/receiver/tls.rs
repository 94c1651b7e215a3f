//! TLS and mutual TLS over real sockets: OTLP/HTTP with reqwest (rustls) and OTLP/gRPC with a tonic channel
//! (`ClientTlsConfig`), both trusting only the throwaway `TestPki` CA.

use crate::common;

use std::time::Duration;

use otelwright_receiver::proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use otelwright_receiver::proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use otelwright_receiver::{Fault, Receiver, ReceiverConfig, ReceiverTls, TestPki, Transport};
use prost::Message as _;
use tokio::io::AsyncWriteExt as _;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

const WAIT: Duration = Duration::from_secs(10);
const PROTOBUF: &str = "application/x-protobuf";

async fn start(tls: ReceiverTls) -> Receiver {
    Receiver::start_tls(ReceiverConfig::default(), tls).await.expect("start tls receiver")
}

/// A reqwest client that trusts only `ca_pem` (no built-in or platform roots) and, optionally, presents an
/// identity (certificate + key PEM).
fn https_client(ca_pem: &str, identity_pem: Option<&str>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("ca pem");
    let mut builder = reqwest::Client::builder().tls_certs_only([ca]).timeout(WAIT);
    if let Some(identity) = identity_pem {
        builder = builder.identity(reqwest::Identity::from_pem(identity.as_bytes()).expect("identity pem"));
    }
    builder.build().expect("reqwest client")
}

/// POSTs a protobuf trace export with one span named `span_name` to `base` (`http(s)://host:port`).
async fn post_traces(client: &reqwest::Client, base: &str, span_name: &str) -> Result<reqwest::Response, String> {
    client
        .post(format!("{base}/v1/traces"))
        .header("content-type", PROTOBUF)
        .body(common::traces("tls-svc", span_name).encode_to_vec())
        .send()
        .await
        .map_err(|e| format!("{e:?}"))
}

/// Connects a tonic channel to `endpoint` with `tls` (or plaintext) and exports one span named `span_name`.
async fn grpc_export(endpoint: String, tls: Option<ClientTlsConfig>, span_name: &str) -> Result<(), String> {
    let mut endpoint = Channel::from_shared(endpoint).map_err(|e| e.to_string())?.connect_timeout(WAIT).timeout(WAIT);
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).map_err(|e| format!("{e:?}"))?;
    }
    let channel = endpoint.connect().await.map_err(|e| format!("connect: {e:?}"))?;
    TraceServiceClient::new(channel)
        .export(common::traces("tls-grpc-svc", span_name))
        .await
        .map(drop)
        .map_err(|status| format!("export: {status:?}"))
}

fn grpc_tls(ca_pem: &str) -> ClientTlsConfig {
    ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem))
}

async fn wait_for_span(receiver: &Receiver, name: &str) -> otelwright_receiver::ReceivedSpan {
    let spans = receiver.wait_for_spans(|s| s.iter().any(|s| s.name() == name), WAIT).await.expect("span arrives");
    spans.into_iter().find(|s| s.name() == name).unwrap()
}

#[tokio::test]
async fn http_protobuf_export_over_tls_is_stored() {
    let pki = TestPki::generate().unwrap();
    let dir = std::env::temp_dir().join(format!("otelwright-receiver-tls-{}", std::process::id()));
    let files = pki.write_to(&dir).unwrap();
    let receiver = start(ReceiverTls::server_only(&pki)).await;
    assert!(receiver.is_tls());
    assert_eq!(receiver.http_endpoint(), format!("https://127.0.0.1:{}", receiver.http_addr().port()));
    assert_eq!(receiver.grpc_endpoint(), format!("https://127.0.0.1:{}", receiver.grpc_addr().port()));

    // The CA as a file, the way the SDK gets it (OTEL_EXPORTER_OTLP_CERTIFICATE).
    let ca_pem = std::fs::read_to_string(&files.ca).unwrap();
    let response = post_traces(&https_client(&ca_pem, None), &receiver.http_endpoint(), "over-https").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);

    let span = wait_for_span(&receiver, "over-https").await;
    assert_eq!(span.transport, Transport::HttpProtobuf);
    assert_eq!(span.resource_str("service.name").as_deref(), Some("tls-svc"));
    receiver.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn grpc_export_over_tls_is_stored() {
    let pki = TestPki::generate().unwrap();
    let receiver = start(ReceiverTls::server_only(&pki)).await;

    grpc_export(receiver.grpc_endpoint(), Some(grpc_tls(&pki.ca_pem)), "over-grpcs").await.expect("grpc over tls");
    // A second client on its own channel, for another signal.
    let channel = Channel::from_shared(receiver.grpc_endpoint())
        .unwrap()
        .tls_config(grpc_tls(&pki.ca_pem))
        .unwrap()
        .connect()
        .await
        .expect("connect");
    LogsServiceClient::new(channel).export(common::logs("tls-grpc-svc", "hello over tls")).await.expect("logs");

    let span = wait_for_span(&receiver, "over-grpcs").await;
    assert_eq!(span.transport, Transport::Grpc);
    assert_eq!(span.resource_str("service.name").as_deref(), Some("tls-grpc-svc"));
    let logs = receiver.wait_for_logs(|l| !l.is_empty(), WAIT).await.expect("log arrives");
    assert_eq!(logs[0].body_str().as_deref(), Some("hello over tls"));
    receiver.shutdown().await;
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let pki = TestPki::generate().unwrap();
    let stranger = TestPki::generate().unwrap();
    let receiver = start(ReceiverTls::mutual(&pki)).await;
    let base = receiver.http_endpoint();

    // No client certificate: the handshake fails, over HTTP and gRPC.
    // (TLS 1.3: the client's side of the handshake completes, then the server's alert fails the request.)
    let err = post_traces(&https_client(&pki.ca_pem, None), &base, "anonymous").await.expect_err("needs a cert");
    assert!(err.contains("CertificateRequired"), "{err}");
    let err = grpc_export(receiver.grpc_endpoint(), Some(grpc_tls(&pki.ca_pem)), "anonymous-grpc")
        .await
        .expect_err("grpc needs a cert");
    assert!(err.contains("CertificateRequired"), "{err}");

    // A client certificate from another CA: rejected too.
    let err = post_traces(&https_client(&pki.ca_pem, Some(&stranger.client_identity_pem())), &base, "stranger")
        .await
        .expect_err("cert from an unknown CA");
    assert!(err.contains("UnknownCA"), "{err}");
    let stranger_identity = Identity::from_pem(&stranger.client_cert_pem, &stranger.client_key_pem);
    let err =
        grpc_export(receiver.grpc_endpoint(), Some(grpc_tls(&pki.ca_pem).identity(stranger_identity)), "stranger-grpc")
            .await
            .expect_err("grpc cert from an unknown CA");
    assert!(err.contains("UnknownCA"), "{err}");
    assert!(receiver.spans().is_empty(), "nothing may be stored without a valid client certificate");
    assert!(receiver.requests().is_empty());

    // With the CA's client certificate: accepted on both listeners.
    let response = post_traces(&https_client(&pki.ca_pem, Some(&pki.client_identity_pem())), &base, "mtls-http")
        .await
        .expect("mtls http");
    assert_eq!(response.status(), 200);
    let identity = Identity::from_pem(&pki.client_cert_pem, &pki.client_key_pem);
    grpc_export(receiver.grpc_endpoint(), Some(grpc_tls(&pki.ca_pem).identity(identity)), "mtls-grpc")
        .await
        .expect("mtls grpc");
    assert_eq!(wait_for_span(&receiver, "mtls-http").await.transport, Transport::HttpProtobuf);
    assert_eq!(wait_for_span(&receiver, "mtls-grpc").await.transport, Transport::Grpc);
    assert_eq!(receiver.spans().len(), 2);
    receiver.shutdown().await;
}

#[tokio::test]
async fn client_trusting_another_ca_fails_the_handshake() {
    let pki = TestPki::generate().unwrap();
    let other = TestPki::generate().unwrap();
    let receiver = start(ReceiverTls::server_only(&pki)).await;

    let err = post_traces(&https_client(&other.ca_pem, None), &receiver.http_endpoint(), "untrusted")
        .await
        .expect_err("server cert is not from the trusted CA");
    assert!(err.contains("UnknownIssuer"), "expected a certificate verification error, got {err}");
    let err = grpc_export(receiver.grpc_endpoint(), Some(grpc_tls(&other.ca_pem)), "untrusted-grpc")
        .await
        .expect_err("grpc: server cert is not from the trusted CA");
    assert!(err.contains("UnknownIssuer"), "expected a certificate verification error, got {err}");
    assert!(receiver.spans().is_empty());
    assert!(receiver.requests().is_empty());

    // The same receiver, trusted properly, works (so the failures above were the CA, not the setup).
    let response = post_traces(&https_client(&pki.ca_pem, None), &receiver.http_endpoint(), "trusted").await.unwrap();
    assert_eq!(response.status(), 200);
    wait_for_span(&receiver, "trusted").await;
    receiver.shutdown().await;
}

#[tokio::test]
async fn plaintext_to_a_tls_port_is_dropped_and_the_receiver_keeps_serving() {
    let pki = TestPki::generate().unwrap();
    let receiver = start(ReceiverTls::server_only(&pki)).await;
    let plain_http = format!("http://{}", receiver.http_addr());
    let plain_grpc = format!("http://{}", receiver.grpc_addr());

    let plain_client = reqwest::Client::builder().timeout(WAIT).build().unwrap();
    match post_traces(&plain_client, &plain_http, "plaintext").await {
        Ok(response) => assert!(!response.status().is_success(), "plaintext got {}", response.status()),
        Err(err) => assert!(!err.contains("Connection refused"), "{err}"),
    }
    grpc_export(plain_grpc, None, "plaintext-grpc").await.expect_err("plaintext grpc to a tls port");
    assert!(receiver.spans().is_empty(), "plaintext data must not be stored");
    assert!(receiver.requests().is_empty());

    // Both listeners still serve TLS clients.
    let response = post_traces(&https_client(&pki.ca_pem, None), &receiver.http_endpoint(), "after-plaintext")
        .await
        .expect("tls after plaintext");
    assert_eq!(response.status(), 200);
    grpc_export(receiver.grpc_endpoint(), Some(grpc_tls(&pki.ca_pem)), "after-plaintext-grpc")
        .await
        .expect("grpc tls after plaintext");
    wait_for_span(&receiver, "after-plaintext").await;
    wait_for_span(&receiver, "after-plaintext-grpc").await;
    receiver.shutdown().await;
}

#[tokio::test]
async fn stalled_handshakes_do_not_block_other_clients() {
    let pki = TestPki::generate().unwrap();
    let receiver = start(ReceiverTls::server_only(&pki)).await;

    // Clients that connect and then stall: silent, or half a TLS record header.
    let mut stalled = Vec::new();
    for addr in [receiver.http_addr(), receiver.grpc_addr()] {
        stalled.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        let mut partial = tokio::net::TcpStream::connect(addr).await.unwrap();
        partial.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
        stalled.push(partial);
    }

    let response = post_traces(&https_client(&pki.ca_pem, None), &receiver.http_endpoint(), "not-blocked")
        .await
        .expect("http export");
    assert_eq!(response.status(), 200);
    grpc_export(receiver.grpc_endpoint(), Some(grpc_tls(&pki.ca_pem)), "not-blocked-grpc").await.expect("grpc export");
    // The stalled handshakes are still pending (the receiver has neither answered nor closed them, which it does
    // only at their 10 s timeout): the exports above did not wait for them.
    for stream in &stalled {
        let mut buf = [0u8; 1];
        match stream.try_read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("a stalled handshake ended before the exports were answered: {other:?}"),
        }
    }
    wait_for_span(&receiver, "not-blocked").await;
    wait_for_span(&receiver, "not-blocked-grpc").await;
    drop(stalled);
    receiver.shutdown().await;
}

#[tokio::test]
async fn faults_apply_over_tls() {
    let pki = TestPki::generate().unwrap();
    let receiver = start(ReceiverTls::server_only(&pki)).await;
    let client = https_client(&pki.ca_pem, None);
    let base = receiver.http_endpoint();

    receiver.set_fault(Fault::HttpStatus { status: 503, retry_after: Some(Duration::from_secs(3)) });
    let response = post_traces(&client, &base, "http-fault").await.expect("answered");
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "3");

    receiver.set_fault(Fault::GrpcStatus { code: 14, retry_after: None });
    let err = grpc_export(receiver.grpc_endpoint(), Some(grpc_tls(&pki.ca_pem)), "grpc-fault")
        .await
        .expect_err("UNAVAILABLE");
    assert!(err.contains("Unavailable"), "{err}");
    assert!(receiver.spans().is_empty());

    receiver.set_fault(Fault::Delay(Duration::from_millis(300)));
    let faulted = receiver.faulted_requests();
    let response = post_traces(&client, &base, "delayed").await.expect("answered");
    assert_eq!(response.status(), 200);
    assert_eq!(receiver.faulted_requests(), faulted + 1, "the delay was applied to the request");

    receiver.set_fault(Fault::Refuse);
    let fresh = https_client(&pki.ca_pem, None);
    post_traces(&fresh, &base, "refused").await.expect_err("refused while down");

    receiver.set_fault(Fault::None);
    let response = post_traces(&fresh, &base, "recovered").await.expect("back up");
    assert_eq!(response.status(), 200);
    let spans = receiver.wait_for_spans(|s| s.len() == 2, WAIT).await.expect("two spans");
    let names: Vec<_> = spans.iter().map(|s| s.name().to_owned()).collect();
    assert_eq!(names, ["delayed", "recovered"]);
    assert_eq!(receiver.faulted_requests(), 4);
    receiver.shutdown().await;
}

#[tokio::test]
async fn unusable_tls_material_is_an_error() {
    let pki = TestPki::generate().unwrap();
    let other = TestPki::generate().unwrap();
    for tls in [
        ReceiverTls::new("not a certificate", pki.server_key_pem.clone()),
        ReceiverTls::new(pki.server_cert_pem.clone(), other.server_key_pem.clone()),
        ReceiverTls::server_only(&pki).with_client_ca("no ca here"),
    ] {
        let err = Receiver::start_tls(ReceiverConfig::default(), tls).await.expect_err("unusable tls config");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    }
}
