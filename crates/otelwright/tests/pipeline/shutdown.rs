//! Shutdown returns within its deadline on a multi-thread runtime, a current_thread runtime and outside any
//! runtime, through `shutdown().await`, `shutdown_blocking()` and `Drop`, while the "collector" is a black hole
//! that accepts connections and never answers. Each case is bounded by a watchdog thread (the test bounds the
//! call; it does not time it), and the report must say the deadline was hit.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use otelwright::{Config, LogFormat, Protocol, ShutdownReport};
use otelwright_test_support::{black_hole, refused};

const DEADLINE: Duration = Duration::from_millis(800);
/// Far above the deadline: only a shutdown that ignores its deadline gets near it.
const WATCHDOG: Duration = Duration::from_secs(20);

fn config(protocol: Protocol, addr: SocketAddr) -> Config {
    Config::default()
        .service_name("shutdown-test")
        .protocol(protocol)
        .otlp_endpoint(format!("http://{addr}"))
        // Longer than the deadline, so only the deadline can end the wait.
        .otlp_timeout(Duration::from_secs(10))
        .log_format(LogFormat::Off)
        .shutdown_timeout(DEADLINE)
}

/// Runs `f` on its own thread and fails the test if it has not returned within the watchdog.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(WATCHDOG).unwrap_or_else(|_| panic!("{what}: shutdown did not return"))
}

/// Emits one span, one log record and one metric point so every signal has something pending.
fn emit(telemetry: &otelwright::Telemetry) {
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        tracing::info_span!("pending").in_scope(|| tracing::info!("pending log"));
    });
    telemetry.meter("test").u64_counter("test.pending").build().add(1, &[]);
}

fn assert_hit_deadline(what: &str, report: &ShutdownReport) {
    assert!(report.timed_out || !report.errors.is_empty(), "{what}: a black hole cannot shut down cleanly: {report:?}");
}

/// Builds a pipeline to a black hole on the runtime `runtime` makes, emits, and awaits its shutdown, under the
/// watchdog.
fn shutdown_on(what: &str, runtime: fn() -> tokio::runtime::Runtime, protocol: Protocol) -> ShutdownReport {
    let addr = black_hole();
    within(what, move || {
        runtime().block_on(async move {
            let telemetry = otelwright::build(config(protocol, addr)).unwrap();
            emit(&telemetry);
            telemetry.shutdown().await
        })
    })
}

#[test]
fn multi_thread_runtime_grpc_and_http() {
    let runtime = || tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        assert_hit_deadline("multi-thread", &shutdown_on("multi-thread", runtime, protocol));
    }
}

#[test]
fn current_thread_runtime_grpc_and_http() {
    let runtime = || tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for protocol in [Protocol::Grpc, Protocol::HttpJson] {
        assert_hit_deadline("current_thread", &shutdown_on("current_thread", runtime, protocol));
    }
}

#[test]
fn current_thread_runtime_without_timers() {
    // shutdown().await must not need Tokio's timer: this runtime has none.
    let runtime = || tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_hit_deadline("no timers", &shutdown_on("no timers", runtime, Protocol::HttpProtobuf));
}

#[test]
fn outside_any_runtime() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let addr = black_hole();
        let report = within("no runtime", move || {
            let telemetry = otelwright::build(config(protocol, addr)).unwrap();
            emit(&telemetry);
            telemetry.shutdown_blocking()
        });
        assert_hit_deadline("no runtime", &report);
    }
}

#[test]
fn drop_shuts_down_on_any_flavour() {
    let addr = black_hole();
    within("drop, current_thread", move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let telemetry = otelwright::build(config(Protocol::Grpc, addr)).unwrap();
            emit(&telemetry);
            drop(telemetry);
        });
    });
    let addr = black_hole();
    within("drop, no runtime", move || {
        let telemetry = otelwright::build(config(Protocol::HttpProtobuf, addr)).unwrap();
        emit(&telemetry);
        drop(telemetry);
    });
}

#[test]
fn nothing_listening_at_all() {
    // Connection refused: exports fail fast, and shutdown still returns (cleanly or with errors, never hanging).
    let addr = refused();
    let report = within("refused", move || {
        let telemetry = otelwright::build(config(Protocol::Grpc, addr)).unwrap();
        emit(&telemetry);
        telemetry.shutdown_blocking()
    });
    assert!(!report.is_clean(), "nothing can be exported to a closed port: {report:?}");
}

#[test]
fn disabled_sdk_shuts_down_at_once() {
    let report = within("disabled", || {
        let telemetry = otelwright::build(Config::default().disabled(true).log_format(LogFormat::Off)).unwrap();
        emit(&telemetry);
        telemetry.shutdown_blocking()
    });
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn code_endpoint_that_is_not_a_url_is_an_error() {
    // `host:port` is a valid endpoint (https); a bare word and another scheme are not.
    for bad in ["collector", "ftp://collector:4317"] {
        let err = otelwright::build(Config::default().otlp_endpoint(bad).log_format(LogFormat::Off)).unwrap_err();
        assert!(matches!(err, otelwright::Error::InvalidEndpoint { .. }), "{err}");
        assert!(err.to_string().contains(bad), "{err}");
    }
}
