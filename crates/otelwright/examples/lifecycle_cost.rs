//! Measures what setting up and shutting down telemetry costs a service, side by side in one run:
//! `build` (what `init` does minus the global installs) per protocol, and `shutdown` with the collector up
//! (an in-process otelwright-receiver), refusing connections, and a black hole that never answers. The TLS rows
//! use a TLS receiver whose CA is given as `OTEL_EXPORTER_OTLP_CERTIFICATE` would give it, and one init that loads
//! the system's trust store instead.
//!
//! `cargo run --release -p otelwright --example lifecycle_cost [-- ROUNDS]`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use otelwright::{Config, LogFormat, Protocol};
use otelwright_receiver::{Receiver, ReceiverConfig, ReceiverTls, TestPki};
use otelwright_test_support::{black_hole, refused};

fn config(protocol: Protocol, endpoint: String) -> Config {
    Config::default()
        .service_name("lifecycle-cost")
        .protocol(protocol)
        .otlp_endpoint(endpoint)
        .log_format(LogFormat::Off)
}

fn emit(t: &otelwright::Telemetry) {
    tracing::dispatcher::with_default(t.dispatch(), || {
        tracing::info_span!("work").in_scope(|| tracing::info!("one log"));
    });
    t.meter("cost").u64_counter("cost.calls").build().add(1, &[]);
}

fn summary(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<48} min {:>8.2} ms  median {:>8.2} ms  max {:>8.2} ms  (n={})",
        ms(samples[0]),
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() - 1]),
        samples.len()
    );
}

/// Builds a pipeline from `config`, emits, and shuts it down with the collector up: the time of each step.
async fn build_and_shut_down(config: Config) -> (Duration, Duration) {
    let t0 = Instant::now();
    let telemetry = otelwright::build(config).unwrap();
    let init = t0.elapsed();
    emit(&telemetry);
    let t1 = Instant::now();
    let report = telemetry.shutdown().await;
    let down = t1.elapsed();
    assert!(report.is_clean(), "{report:?}");
    (init, down)
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let receiver = Receiver::start().await.unwrap();
    let protocols = [
        (Protocol::Grpc, receiver.grpc_endpoint()),
        (Protocol::HttpProtobuf, receiver.http_endpoint()),
        (Protocol::HttpJson, receiver.http_endpoint()),
    ];
    println!("otelwright lifecycle cost, {rounds} rounds, collector = in-process otelwright-receiver");
    for (protocol, endpoint) in &protocols {
        let (mut init, mut down) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let (i, d) = build_and_shut_down(config(*protocol, endpoint.clone())).await;
            init.push(i);
            down.push(d);
        }
        summary(&format!("init ({protocol:?})"), init);
        summary(&format!("shutdown, collector up ({protocol:?})"), down);
    }
    let pki = TestPki::generate().unwrap();
    let dir = std::env::temp_dir().join(format!("otelwright-lifecycle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = pki.write_to(&dir).unwrap().ca;
    let tls = Receiver::start_tls(ReceiverConfig::default(), ReceiverTls::server_only(&pki)).await.unwrap();
    for (protocol, endpoint) in [(Protocol::Grpc, tls.grpc_endpoint()), (Protocol::HttpProtobuf, tls.http_endpoint())] {
        let (mut init, mut down, mut system_roots) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let (i, d) = build_and_shut_down(config(protocol, endpoint.clone()).otlp_certificate(&ca)).await;
            init.push(i);
            down.push(d);
            // No CA file: the system's trust store is loaded (nothing is emitted, so nothing fails to export).
            let t0 = Instant::now();
            let telemetry = otelwright::build(config(protocol, endpoint.clone())).unwrap();
            system_roots.push(t0.elapsed());
            let _ = telemetry.shutdown().await;
        }
        summary(&format!("init (TLS, CA file, {protocol:?})"), init);
        summary(&format!("init (TLS, system trust store, {protocol:?})"), system_roots);
        summary(&format!("shutdown, collector up (TLS, {protocol:?})"), down);
    }
    tls.shutdown().await;
    let few = rounds.clamp(1, 3);
    for (label, addr) in [("refusing connections", refused as fn() -> SocketAddr), ("black hole", black_hole)] {
        for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
            let mut down = Vec::new();
            for _ in 0..few {
                let telemetry = otelwright::build(config(protocol, format!("http://{}", addr()))).unwrap();
                emit(&telemetry);
                let t1 = Instant::now();
                let _ = telemetry.shutdown().await;
                down.push(t1.elapsed());
            }
            summary(&format!("shutdown, collector {label} ({protocol:?})"), down);
        }
    }
    receiver.shutdown().await;
}
