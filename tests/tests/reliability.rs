//! The first promise of an instrumentation SDK: it never hurts the service. Each test runs an instrumented axum
//! service (server layer, a log line per request, a counter) exporting to otelwright-receiver, switches the
//! receiver into a fault mode, and checks that:
//! - the service keeps answering, with a median latency within a small factor of the healthy phase measured in the
//!   same test (compared, not timed);
//! - the exporter really met the fault (the receiver counted faulted requests or connections);
//! - telemetry resumes once the fault clears, and what was lost is counted and exported as
//!   `otelwright.exporter.items{outcome="failed"}` (or, for partial success, nothing is sent twice).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use otelwright::{BatchSettings, Config, LogFormat, Protocol, Telemetry};
use otelwright_receiver::{Fault, Receiver};

const WAIT: Duration = Duration::from_secs(30);
const REQUESTS: usize = 120;
/// Faulted median latency may be at most this many times the healthy one (plus a little absolute slack for a
/// loaded 2-core machine): instrumentation must not wait on the network.
const FACTOR: f64 = 4.0;
const SLACK: Duration = Duration::from_millis(2);

struct Service {
    receiver: Receiver,
    telemetry: Telemetry,
    addr: SocketAddr,
    client: reqwest::Client,
}

async fn service(protocol: Protocol, initial: Fault) -> Service {
    let receiver = Receiver::start().await.unwrap();
    receiver.set_fault(initial);
    let endpoint = if protocol == Protocol::Grpc { receiver.grpc_endpoint() } else { receiver.http_endpoint() };
    let fast = |b: BatchSettings| BatchSettings { schedule_delay: Duration::from_millis(100), ..b };
    let telemetry = otelwright::build(
        Config::default()
            .service_name("reliability")
            .protocol(protocol)
            .otlp_endpoint(endpoint)
            .otlp_timeout(Duration::from_millis(400))
            .metric_interval(Duration::from_millis(300))
            .span_batch(fast(BatchSettings::spans()))
            .log_batch(fast(BatchSettings::logs()))
            .log_format(LogFormat::Off)
            .shutdown_timeout(Duration::from_secs(3)),
    )
    .unwrap();
    let layer = otelwright::http::HttpServerLayer::builder()
        .tracer_provider(telemetry.tracer_provider().unwrap())
        .meter(telemetry.meter("otelwright-http"))
        .build();
    let dispatch = telemetry.dispatch().clone();
    let orders = telemetry.meter("reliability").u64_counter("orders.placed").build();
    let app = Router::new()
        .route(
            "/work",
            get(move || {
                let dispatch = dispatch.clone();
                let orders = orders.clone();
                async move {
                    tracing::dispatcher::with_default(&dispatch, || tracing::info!("handled"));
                    orders.add(1, &[]);
                    "done"
                }
            }),
        )
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Service { receiver, telemetry, addr, client: reqwest::Client::new() }
}

impl Service {
    /// Median latency of `REQUESTS` sequential requests; every one must succeed.
    async fn median_latency(&self) -> Duration {
        let mut samples = Vec::with_capacity(REQUESTS);
        for _ in 0..REQUESTS {
            let start = Instant::now();
            let r = self.client.get(format!("http://{}/work", self.addr)).send().await.expect("the service answers");
            assert_eq!(r.status(), 200);
            assert_eq!(r.text().await.unwrap(), "done");
            samples.push(start.elapsed());
        }
        samples.sort();
        samples[samples.len() / 2]
    }

    async fn failed_items_exported(&self) {
        let metrics = self
            .receiver
            .wait_for_metrics(
                |m| {
                    m.iter().any(|m| {
                        m.name() == "otelwright.exporter.items"
                            && m.number_points()
                                .iter()
                                .any(|p| p.attr_str("outcome").as_deref() == Some("failed") && p.value > 0.0)
                    })
                },
                WAIT,
            )
            .await
            .expect("the count of failed items reaches the collector once it is back");
        let items = metrics.iter().rev().find(|m| m.name() == "otelwright.exporter.items").unwrap();
        assert_eq!(items.unit(), "{item}");
        assert_eq!(items.is_monotonic(), Some(true));
    }

    /// Exports report success again (they run on the exporter's threads: poll with a deadline).
    async fn exported_again(&self, what: &str) {
        let deadline = Instant::now() + WAIT;
        while self.telemetry.export_stats().traces.exported == 0 {
            assert!(Instant::now() < deadline, "{what}: no successful span export after recovery");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn resumes(&self, after: usize) {
        self.receiver
            .wait_for_spans(|s| s.len() > after, WAIT)
            .await
            .expect("spans are exported again once the collector is back");
    }
}

fn assert_close(what: &str, healthy: Duration, faulted: Duration) {
    let limit = healthy.mul_f64(FACTOR) + SLACK;
    assert!(faulted <= limit, "{what}: faulted median {faulted:?} vs healthy {healthy:?} (limit {limit:?})");
}

/// A fault from the start, then healthy: compare, check the fault was met, the recovery, and the loss count.
async fn fault_then_recover(protocol: Protocol, fault: Fault) {
    let what = format!("{protocol:?} {fault:?}");
    let s = service(protocol, fault).await;
    let faulted = s.median_latency().await;
    tokio::time::sleep(Duration::from_millis(800)).await; // let exports run into the fault
    assert!(s.receiver.faulted_requests() > 0, "{what}: the exporter never met the fault");
    let before = s.receiver.spans().len();
    s.receiver.set_fault(Fault::None);
    let healthy = s.median_latency().await;
    assert_close(&what, healthy, faulted);
    s.resumes(before).await;
    s.failed_items_exported().await;
    s.exported_again(&what).await;
    let report = s.telemetry.shutdown().await;
    assert!(!report.timed_out, "{what}: {report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_unreachable_at_start_grpc() {
    fault_then_recover(Protocol::Grpc, Fault::Refuse).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_unreachable_at_start_http() {
    fault_then_recover(Protocol::HttpProtobuf, Fault::Refuse).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_delayed_past_the_export_timeout() {
    fault_then_recover(Protocol::Grpc, Fault::Delay(Duration::from_secs(2))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_unavailable() {
    fault_then_recover(Protocol::Grpc, Fault::GrpcStatus { code: 14, retry_after: None }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_resource_exhausted_with_retry_info() {
    let fault = Fault::GrpcStatus { code: 8, retry_after: Some(Duration::from_millis(100)) };
    fault_then_recover(Protocol::Grpc, fault).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_503_with_retry_after() {
    let fault = Fault::HttpStatus { status: 503, retry_after: Some(Duration::from_secs(1)) };
    fault_then_recover(Protocol::HttpProtobuf, fault).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_mid_run_then_back() {
    let s = service(Protocol::Grpc, Fault::None).await;
    let healthy = s.median_latency().await;
    s.receiver.wait_for_spans(|sp| sp.len() >= REQUESTS, WAIT).await.unwrap();
    // The receiver stores a batch before it answers, and refusing resets the connections: wait for the answers
    // too, or the last healthy batch arrives and is still counted as failed.
    let deadline = Instant::now() + WAIT;
    while s.telemetry.export_stats().traces.exported < REQUESTS as u64 {
        assert!(Instant::now() < deadline, "the healthy phase's exports never completed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.receiver.set_fault(Fault::Refuse);
    let faulted = s.median_latency().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(s.receiver.faulted_requests() > 0, "the exporter never met the refusal");
    let before = s.receiver.spans().len();
    s.receiver.set_fault(Fault::None);
    assert_close("mid-run refusal", healthy, faulted);
    let _ = s.median_latency().await;
    s.resumes(before).await;
    s.failed_items_exported().await;
    let stats = s.telemetry.export_stats();
    assert!(stats.traces.failed > 0 && stats.traces.exported >= REQUESTS as u64, "{stats:?}");
    s.telemetry.shutdown().await;
}

/// Partial success is not retried: every span arrives exactly once, and the export counts as exported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_success_is_not_retried() {
    let s = service(Protocol::Grpc, Fault::Partial { rejected: 1, message: "one span was too big".into() }).await;
    let _ = s.median_latency().await;
    let spans = s.receiver.wait_for_spans(|sp| sp.len() >= REQUESTS, WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let spans = if s.receiver.spans().len() > spans.len() { s.receiver.spans() } else { spans };
    let mut ids: Vec<String> = spans.iter().map(|sp| sp.span_id_hex()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), spans.len(), "a span arrived twice: partial success was retried");
    assert!(s.receiver.faulted_requests() > 0);
    assert_eq!(s.telemetry.export_stats().traces.failed, 0);
    s.telemetry.shutdown().await;
}

/// A queue smaller than a burst: drops are counted, never block the request path, and are exported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_overflow_is_counted_as_dropped() {
    let receiver = Receiver::start().await.unwrap();
    receiver.set_fault(Fault::Delay(Duration::from_secs(1)));
    let tiny = BatchSettings { max_queue_size: 8, max_export_batch_size: 4, ..BatchSettings::spans() };
    let telemetry = otelwright::build(
        Config::default()
            .protocol(Protocol::Grpc)
            .otlp_endpoint(receiver.grpc_endpoint())
            .span_batch(tiny)
            .metric_interval(Duration::from_millis(300))
            .log_format(LogFormat::Off),
    )
    .unwrap();
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        for i in 0..200 {
            tracing::info_span!("burst", i).in_scope(|| {});
        }
    });
    let stats = telemetry.export_stats();
    assert!(stats.traces.dropped >= 200 - 8 - 4, "{stats:?}");
    receiver.set_fault(Fault::None);
    let metrics = receiver
        .wait_for_metrics(
            |m| {
                m.iter().any(|m| {
                    m.name() == "otelwright.exporter.items"
                        && m.number_points().iter().any(|p| {
                            p.attr_str("outcome").as_deref() == Some("dropped")
                                && p.attr_str("otel.signal").as_deref() == Some("traces")
                                && p.value >= 188.0
                        })
                })
            },
            WAIT,
        )
        .await;
    assert!(metrics.is_ok(), "the dropped count is exported");
    telemetry.shutdown().await;
}
