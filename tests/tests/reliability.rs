//! The first promise of an instrumentation SDK: it never hurts the service. Each test runs an instrumented axum
//! service (server layer, a log line per request, a counter) exporting to otelwright-receiver, switches the
//! receiver into a fault mode, and checks what happened, never how long it took:
//! - while the collector hangs (it holds every export unanswered, so the exporter is provably stalled), every
//!   request is answered, the full queue drops what does not fit and counts it: the request path never waits on
//!   the exporter;
//! - under each fault every request is answered while no span export succeeds, and the exporter really met the
//!   fault (the receiver counted faulted requests or connections);
//! - telemetry resumes once the fault clears, what was lost is counted and exported as
//!   `otelwright.exporter.items{outcome="failed"|"dropped"}`, and every span ends up exported, failed or dropped
//!   (or, for partial success, arrives exactly once).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use otelwright::{BatchSettings, Config, LogFormat, Protocol, SignalCounts, Telemetry};
use otelwright_receiver::{Fault, Receiver, Signal};
use otelwright_test_support::config;

/// How long a wait for something that must happen may take before the test fails: a guard against hanging, never
/// a measurement.
const WAIT: Duration = Duration::from_secs(30);
const REQUESTS: usize = 120;
/// The export timeout of the fault tests: below the 2 s `Fault::Delay`, so a delayed answer is a failed export.
const EXPORT_TIMEOUT: Duration = Duration::from_millis(400);

struct Service {
    receiver: Receiver,
    telemetry: Telemetry,
    addr: SocketAddr,
    client: reqwest::Client,
}

async fn service(protocol: Protocol, initial: Fault, export_timeout: Duration, spans: BatchSettings) -> Service {
    let receiver = Receiver::start().await.unwrap();
    receiver.set_fault(initial);
    let endpoint = if protocol == Protocol::Grpc { receiver.grpc_endpoint() } else { receiver.http_endpoint() };
    let telemetry = otelwright::build(
        otelwright_test_support::fast_batches(config(&receiver, "reliability"), Duration::from_millis(100))
            .protocol(protocol)
            .otlp_endpoint(endpoint)
            .otlp_timeout(export_timeout)
            .metric_interval(Duration::from_millis(300))
            .span_batch(BatchSettings { schedule_delay: Duration::from_millis(100), ..spans })
            .shutdown_timeout(Duration::from_secs(3)),
    )
    .unwrap();
    let layer = otelwright::http::HttpServerLayer::builder()
        .tracer_provider(telemetry.tracer_provider().unwrap())
        .meter_provider(telemetry.meter_provider().unwrap())
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
    // The client's timeout only turns a request path that blocks into a failure instead of a hung test.
    let client = reqwest::Client::builder().timeout(WAIT).build().unwrap();
    Service { receiver, telemetry, addr, client }
}

/// Polls `done` until it holds; fails with `what` after [`WAIT`]. The sleep spaces the polls of a condition: it
/// is not what the test waits for.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Service {
    /// `n` sequential requests; every one must be answered `200 done`.
    async fn answers(&self, n: usize, what: &str) {
        for i in 0..n {
            let r = self.client.get(format!("http://{}/work", self.addr)).send().await;
            let r =
                r.unwrap_or_else(|e| panic!("{what}: request {i} got no answer (did it wait on the exporter?): {e}"));
            assert_eq!(r.status(), 200, "{what}: request {i}");
            assert_eq!(r.text().await.unwrap(), "done", "{what}: request {i}");
        }
    }

    fn spans(&self) -> SignalCounts {
        self.telemetry.export_stats().traces
    }

    /// `otelwright.exporter.items{otel.signal="traces", outcome}` reaches the collector with at least `at_least`.
    async fn loss_exported(&self, outcome: &str, at_least: u64) {
        let metrics = self
            .receiver
            .wait_for_metrics(
                |m| {
                    m.iter().any(|m| {
                        m.name() == "otelwright.exporter.items"
                            && m.number_points().iter().any(|p| {
                                p.attr_str("outcome").as_deref() == Some(outcome)
                                    && p.attr_str("otel.signal").as_deref() == Some("traces")
                                    && p.value >= at_least as f64
                                    && p.value > 0.0
                            })
                    })
                },
                WAIT,
            )
            .await
            .unwrap_or_else(|e| panic!("the count of {outcome} spans reaches the collector once it is back: {e}"));
        let items = metrics.iter().rev().find(|m| m.name() == "otelwright.exporter.items").unwrap();
        assert_eq!(items.unit(), "{item}");
        assert_eq!(items.is_monotonic(), Some(true));
    }

    async fn resumes(&self, after: usize) {
        self.receiver
            .wait_for_spans(|s| s.len() > after, WAIT)
            .await
            .expect("spans are exported again once the collector is back");
    }

    /// Every one of `emitted` spans ends up exported, failed or dropped (the last one ends just after its answer,
    /// so this waits for the count); then shutdown keeps its deadline.
    async fn shutdown_accounts_for(self, emitted: usize, what: &str) -> SignalCounts {
        let _ = self.telemetry.flush().await;
        let deadline = Instant::now() + WAIT;
        let spans = loop {
            let spans = self.spans();
            if spans.exported + spans.failed + spans.dropped == emitted as u64 {
                break spans;
            }
            assert!(Instant::now() < deadline, "{what}: {emitted} spans emitted, not all accounted for: {spans:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let report = self.telemetry.shutdown().await;
        assert!(!report.timed_out, "{what}: {report:?}");
        spans
    }
}

/// The collector accepts every export and answers none. Once a span export is held (the exporter provably
/// waits on the collector, with a 10-minute export timeout), `REQUESTS` more requests are all answered while
/// that export is still held and no span export has ended: the request path never waits on the exporter. The
/// 16-item queue overflows meanwhile, and the overflow is dropped and counted, not waited for. After the
/// collector answers, every span is exported or counted as dropped, and the dropped count is exported.
async fn request_path_never_waits_on_a_hung_collector(protocol: Protocol) {
    let what = format!("{protocol:?} hung collector");
    let queue = BatchSettings { max_queue_size: 16, max_export_batch_size: 4, ..BatchSettings::spans() };
    let s = service(protocol, Fault::Hold, Duration::from_secs(600), queue).await;
    s.answers(1, &what).await;
    until(&format!("{what}: a span export reaches the collector and is held"), || {
        s.receiver.held_requests(Signal::Traces) > 0
    })
    .await;

    s.answers(REQUESTS, &what).await;
    // At most `max_queue_size` spans are queued or in a running export; the rest are dropped, not waited for.
    // (Waited for: the last span ends just after its answer.)
    let overflow = (REQUESTS + 1 - 16) as u64;
    until(&format!("{what}: the overflow is counted as dropped"), || s.spans().dropped >= overflow).await;
    assert!(s.receiver.held_requests(Signal::Traces) > 0, "{what}: the span export is still held");
    let stalled = s.spans();
    assert_eq!((stalled.exported, stalled.failed), (0, 0), "{what}: no span export ended: {stalled:?}");

    s.receiver.set_fault(Fault::None);
    s.loss_exported("dropped", stalled.dropped).await;
    let receiver = s.receiver.clone();
    let spans = s.shutdown_accounts_for(REQUESTS + 1, &what).await;
    assert_eq!(spans.failed, 0, "{what}: {spans:?}");
    assert_eq!(receiver.spans().len() as u64, spans.exported, "{what}: every exported span arrived once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_path_never_waits_on_a_hung_collector_grpc() {
    request_path_never_waits_on_a_hung_collector(Protocol::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_path_never_waits_on_a_hung_collector_http() {
    request_path_never_waits_on_a_hung_collector(Protocol::HttpProtobuf).await;
}

/// A fault from the start: every request is answered, the exporter meets the fault and, its retries spent, counts
/// a span export as failed, while no span export succeeds; then healthy: spans resume, the failed count is
/// exported, and every span is accounted for.
async fn fault_then_recover(protocol: Protocol, fault: Fault) {
    let what = format!("{protocol:?} {fault:?}");
    let s = service(protocol, fault, EXPORT_TIMEOUT, BatchSettings::spans()).await;
    s.answers(REQUESTS, &what).await;
    until(&format!("{what}: the exporter meets the fault and gives up on a span export"), || {
        s.receiver.faulted_requests() > 0 && s.spans().failed > 0
    })
    .await;
    let faulted = s.spans();
    assert_eq!(faulted.exported, 0, "{what}: every request was answered while no span export succeeded");

    let before = s.receiver.spans().len();
    s.receiver.set_fault(Fault::None);
    s.answers(REQUESTS, &what).await;
    s.resumes(before).await;
    s.loss_exported("failed", faulted.failed).await;
    until(&format!("{what}: no successful span export after recovery"), || s.spans().exported > 0).await;
    s.shutdown_accounts_for(2 * REQUESTS, &what).await;
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
    let what = "mid-run refusal";
    let s = service(Protocol::Grpc, Fault::None, EXPORT_TIMEOUT, BatchSettings::spans()).await;
    s.answers(REQUESTS, what).await;
    // The receiver stores a batch before it answers, and refusing resets the connections: wait for the answers
    // too, or the last healthy batch arrives and is still counted as failed.
    until("the healthy phase's exports complete", || s.spans().exported >= REQUESTS as u64).await;
    let healthy = s.spans();
    assert_eq!((healthy.exported, healthy.failed, healthy.dropped), (REQUESTS as u64, 0, 0));

    s.receiver.set_fault(Fault::Refuse);
    s.answers(REQUESTS, what).await;
    // A reset connection can fail an export before any reconnection is refused: wait for both.
    until("the exporter meets the refusal and gives up on a span export", || {
        s.receiver.faulted_requests() > 0 && s.spans().failed > 0
    })
    .await;
    let faulted = s.spans();
    assert_eq!(faulted.exported, healthy.exported, "every request was answered while no span export succeeded");

    let before = s.receiver.spans().len();
    s.receiver.set_fault(Fault::None);
    s.answers(REQUESTS, what).await;
    s.resumes(before).await;
    s.loss_exported("failed", faulted.failed).await;
    let spans = s.shutdown_accounts_for(3 * REQUESTS, what).await;
    assert!(spans.exported > healthy.exported, "{spans:?}");
}

/// Partial success is not retried: once every span's export has ended, each span arrived exactly once, and the
/// export counts as exported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_success_is_not_retried() {
    let fault = Fault::Partial { rejected: 1, message: "one span was too big".into() };
    let s = service(Protocol::Grpc, fault, EXPORT_TIMEOUT, BatchSettings::spans()).await;
    s.answers(REQUESTS, "partial success").await;
    // The receiver stores an export before answering it, and the exporter counts it only after the answer (and
    // after any retry): once all are counted, everything that will ever arrive has arrived.
    until("every span's export ends", || {
        let c = s.spans();
        c.exported + c.failed + c.dropped == REQUESTS as u64
    })
    .await;
    assert_eq!(s.spans(), SignalCounts { exported: REQUESTS as u64, failed: 0, dropped: 0 });
    let spans = s.receiver.spans();
    let mut ids: Vec<String> = spans.iter().map(|sp| sp.span_id_hex()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), spans.len(), "a span arrived twice: partial success was retried");
    assert_eq!(spans.len(), REQUESTS);
    assert!(s.receiver.faulted_requests() > 0);
    s.telemetry.shutdown().await;
}

/// A queue smaller than a burst, in front of a collector that holds every export: at most `max_queue_size` spans
/// are admitted, the rest are dropped and counted without blocking the emitting thread, and the count is exported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_overflow_is_counted_as_dropped() {
    let receiver = Receiver::start().await.unwrap();
    receiver.set_fault(Fault::Hold);
    let tiny = BatchSettings { max_queue_size: 8, max_export_batch_size: 4, ..BatchSettings::spans() };
    let telemetry = otelwright::build(
        Config::default()
            .protocol(Protocol::Grpc)
            .otlp_endpoint(receiver.grpc_endpoint())
            .otlp_timeout(Duration::from_secs(600))
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
    // Nothing was exported meanwhile (every export is held), so no queue slot was freed.
    let stats = telemetry.export_stats().traces;
    assert_eq!((stats.exported, stats.failed), (0, 0), "{stats:?}");
    assert!(stats.dropped >= 200 - 8, "{stats:?}");
    receiver.set_fault(Fault::None);
    let metrics = receiver
        .wait_for_metrics(
            |m| {
                m.iter().any(|m| {
                    m.name() == "otelwright.exporter.items"
                        && m.number_points().iter().any(|p| {
                            p.attr_str("outcome").as_deref() == Some("dropped")
                                && p.attr_str("otel.signal").as_deref() == Some("traces")
                                && p.value >= stats.dropped as f64
                        })
                })
            },
            WAIT,
        )
        .await;
    assert!(metrics.is_ok(), "the dropped count is exported");
    // The burst's spans ended on this thread: after a flush every one is exported or dropped.
    let _ = telemetry.flush().await;
    let end = telemetry.export_stats().traces;
    assert_eq!((end.exported + end.dropped, end.failed), (200, 0), "{end:?}");
    telemetry.shutdown().await;
}
