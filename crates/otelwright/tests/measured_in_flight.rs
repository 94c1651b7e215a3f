//! `#[measured(in_flight)]`: `function.calls.active` counts the calls in progress, over real OTLP (gRPC) to
//! otelwright-receiver, and returns to zero however the calls end (value, error, panic, cancelled future). Its own
//! process: it installs the global meter provider.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use otelwright::{Config, LogFormat, Protocol, measured};
use otelwright_receiver::{NumberPoint, Receiver};
use tokio::sync::Semaphore;

const WAIT: Duration = Duration::from_secs(20);

#[derive(Debug)]
struct StepFailed;

static STARTED: AtomicUsize = AtomicUsize::new(0);

#[measured(in_flight, name = "agent.step", attributes(tier = "gold", attempt = attempt))]
async fn step(gate: Arc<Semaphore>, attempt: u32) -> Result<u32, StepFailed> {
    STARTED.fetch_add(1, Ordering::SeqCst);
    let _permit = gate.acquire().await.expect("the gate stays open");
    if attempt == 0 { Err(StepFailed) } else { Ok(attempt) }
}

#[measured(in_flight)]
fn explode() -> u32 {
    panic!("measured in-flight panic (expected by the test)")
}

/// The `function.calls.active` points of the last export.
async fn active(receiver: &Receiver, telemetry: &otelwright::Telemetry) -> Vec<NumberPoint> {
    receiver.clear();
    let errors = telemetry.flush().await;
    assert!(errors.is_empty(), "flush errors: {errors:?}");
    let metrics = receiver
        .wait_for_metrics(|m| m.iter().any(|m| m.name() == "function.calls.active"), WAIT)
        .await
        .expect("function.calls.active arrives");
    let metric = metrics.iter().rev().find(|m| m.name() == "function.calls.active").unwrap();
    assert_eq!(metric.unit(), "{call}");
    assert_eq!(metric.is_monotonic(), Some(false), "an up-down counter");
    metric.number_points()
}

fn value(points: &[NumberPoint], function: &str) -> f64 {
    let found: Vec<&NumberPoint> =
        points.iter().filter(|p| p.attr_str("code.function.name").as_deref() == Some(function)).collect();
    assert_eq!(found.len(), 1, "one series for {function}: {points:?}");
    found[0].value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_calls_are_counted_until_they_end_however_they_end() {
    let receiver = Receiver::start().await.expect("receiver starts");
    let config = Config::default()
        .service_name("measured-in-flight-test")
        .protocol(Protocol::Grpc)
        .otlp_endpoint(receiver.grpc_endpoint())
        .log_format(LogFormat::Off);
    let telemetry = otelwright::build(config).expect("telemetry builds");
    otelwright::measure::set_global_meter_provider(telemetry.meter_provider().expect("metrics on").clone());

    // Four calls held at the gate: one will succeed, one fail, one be cancelled, one succeed later.
    let gate = Arc::new(Semaphore::new(0));
    let calls: Vec<_> = [1, 0, 7, 2].into_iter().map(|attempt| tokio::spawn(step(gate.clone(), attempt))).collect();
    let deadline = tokio::time::Instant::now() + WAIT;
    while STARTED.load(Ordering::SeqCst) < 4 {
        assert!(tokio::time::Instant::now() < deadline, "the four calls did not start");
        tokio::task::yield_now().await;
    }
    let panicked = std::panic::catch_unwind(explode);
    assert!(panicked.is_err(), "the panic is re-raised");

    let step_name = "measured_in_flight::step";
    let explode_name = "measured_in_flight::explode";
    let points = active(&receiver, &telemetry).await;
    assert_eq!(value(&points, step_name), 4.0, "four calls in progress");
    assert_eq!(value(&points, explode_name), 0.0, "the panicked call ended");
    let step_point = points.iter().find(|p| p.attr_str("code.function.name").as_deref() == Some(step_name)).unwrap();
    assert_eq!(step_point.attr_str("function.name").as_deref(), Some("agent.step"));
    assert_eq!(step_point.attr_str("tier").as_deref(), Some("gold"), "literal attributes are kept");
    assert_eq!(step_point.attr_str("attempt"), None, "attributes from arguments are not: +1 and -1 meet in one series");
    assert_eq!(step_point.attr_str("outcome"), None);

    // End them: cancel one, let the other three through (one of them fails).
    let mut calls = calls.into_iter();
    let (a, b, cancelled, d) =
        (calls.next().unwrap(), calls.next().unwrap(), calls.next().unwrap(), calls.next().unwrap());
    cancelled.abort();
    assert!(cancelled.await.expect_err("aborted").is_cancelled());
    let points = active(&receiver, &telemetry).await;
    assert_eq!(value(&points, step_name), 3.0, "the cancelled call ended");
    gate.add_permits(3);
    assert_eq!(a.await.unwrap().unwrap(), 1);
    assert!(b.await.unwrap().is_err());
    assert_eq!(d.await.unwrap().unwrap(), 2);
    let points = active(&receiver, &telemetry).await;
    assert_eq!(value(&points, step_name), 0.0, "every call ended");

    // The calls themselves are still counted by outcome in function.calls.
    let metrics = receiver.metrics();
    let calls = metrics.iter().rev().find(|m| m.name() == "function.calls").expect("function.calls");
    let outcomes = |outcome: &str| -> f64 {
        calls
            .number_points()
            .iter()
            .filter(|p| {
                p.attr_str("code.function.name").as_deref() == Some(step_name)
                    && p.attr_str("outcome").as_deref() == Some(outcome)
            })
            .map(|p| p.value)
            .sum()
    };
    assert_eq!((outcomes("ok"), outcomes("error"), outcomes("cancelled")), (2.0, 1.0, 1.0));
    let report = telemetry.shutdown().await;
    assert!(report.is_clean(), "{report:?}");
}
