//! `#[measured]` and `record!` follow the meter provider that `otelwright::init` installs: a function first called
//! before `init` (bound to the no-op provider) records into the real pipeline afterwards, exported over OTLP to
//! otelwright-receiver. Its own process: `init` installs globals.

use std::time::Duration;

use otelwright::measured;
use otelwright_receiver::Receiver;

const WAIT: Duration = Duration::from_secs(20);

#[measured]
fn warm_up() -> Result<(), std::fmt::Error> {
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn measured_follows_the_provider_that_init_installs() {
    let receiver = Receiver::start().await.expect("receiver starts");
    warm_up().unwrap(); // no provider yet: the no-op one
    otelwright::record!("init.items", 100, unit = "{item}");

    let telemetry = otelwright::init(otelwright_test_support::config(&receiver, "measured-init")).expect("init");
    warm_up().unwrap();
    warm_up().unwrap();
    otelwright::record!("init.items", 3, unit = "{item}");

    let errors = telemetry.flush().await;
    assert!(errors.is_empty(), "flush errors: {errors:?}");
    let metrics = receiver
        .wait_for_metrics(
            |m| m.iter().any(|m| m.name() == "function.calls") && m.iter().any(|m| m.name() == "init.items"),
            WAIT,
        )
        .await
        .expect("metrics arrive");
    let calls = metrics.iter().rev().find(|m| m.name() == "function.calls").unwrap();
    let points = calls.number_points();
    assert_eq!(points.len(), 1, "{points:?}");
    assert_eq!(points[0].attr_str("code.function.name").as_deref(), Some("measured_init::warm_up"));
    assert_eq!(points[0].attr_str("outcome").as_deref(), Some("ok"));
    assert_eq!(points[0].value, 2.0, "the call before init went to the no-op provider");
    let items = metrics.iter().rev().find(|m| m.name() == "init.items").unwrap();
    assert_eq!(items.values(), [3.0]);
    assert_eq!(items.unit(), "{item}");

    let report = telemetry.shutdown().await;
    assert!(report.is_clean(), "{report:?}");
    // Shut down: the global provider is the no-op one again, and so are the instruments.
    warm_up().unwrap();
    receiver.shutdown().await;
}
