//! What a `tracing` span and the events inside it become, through the real pipeline and the receiver: an event is
//! exported once (a log record when OTLP logs are on, else a span event), an ERROR event still marks its span as
//! failed, and tracing-opentelemetry's location, thread, target and inactivity attributes appear only when asked.

use std::time::Duration;

use otelwright::{Config, Exporter, Signal, Telemetry};
use otelwright_receiver::{ReceivedLog, ReceivedSpan, Receiver};

const WAIT: Duration = Duration::from_secs(20);
const STATUS_ERROR: i32 = 2;

/// Attributes tracing-opentelemetry adds when its location, thread, target and inactivity switches are on.
const DETAILS: [&str; 8] = [
    "code.file.path",
    "code.module.name",
    "code.line.number",
    "thread.id",
    "thread.name",
    "target",
    "busy_ns",
    "idle_ns",
];

fn config(receiver: &Receiver, service: &str, logs: bool) -> Config {
    otelwright_test_support::fast_batches(otelwright_test_support::config(receiver, service), Duration::from_millis(50))
        .exporters(Signal::Metrics, [])
        .exporters(Signal::Logs, if logs { vec![Exporter::Otlp] } else { Vec::new() })
}

/// A span `work` with an INFO event inside, a span `failing` with an ERROR event inside, and a span `quiet` with an
/// ERROR event of a target the trace filter turns off (`noisy`, in [`with_logs_on_an_event_is_a_log_record_and_not_a_span_event`]).
fn emit(telemetry: &Telemetry) {
    tracing::dispatcher::with_default(telemetry.dispatch(), || {
        tracing::info_span!("work", job = 7_u64).in_scope(|| tracing::info!(rows = 3_u64, "inside work"));
        tracing::info_span!("failing").in_scope(|| tracing::error!("it broke"));
        tracing::info_span!("quiet").in_scope(|| tracing::error!(target: "noisy", "not for traces"));
    });
}

async fn spans(receiver: &Receiver, service: &str) -> (ReceivedSpan, ReceivedSpan) {
    let mine = |s: &ReceivedSpan| s.resource_str("service.name").as_deref() == Some(service);
    let spans = receiver.wait_for_spans(|s| s.iter().filter(|s| mine(s)).count() >= 3, WAIT).await.unwrap();
    let find = |name: &str| spans.iter().find(|s| mine(s) && s.name() == name).cloned().unwrap();
    (find("work"), find("failing"))
}

fn logs_of(receiver: &Receiver, service: &str) -> Vec<ReceivedLog> {
    receiver.logs().into_iter().filter(|l| l.resource_str("service.name").as_deref() == Some(service)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_logs_on_an_event_is_a_log_record_and_not_a_span_event() {
    let receiver = Receiver::start().await.unwrap();
    let telemetry =
        otelwright::build(config(&receiver, "events-as-logs", true).trace_filter("info,noisy=off")).unwrap();
    emit(&telemetry);
    assert!(telemetry.flush().await.is_empty());
    let (work, failing) = spans(&receiver, "events-as-logs").await;
    let mine = |l: &[ReceivedLog]| l.len() >= 3;
    receiver.wait_for_logs(|_| mine(&logs_of(&receiver, "events-as-logs")), WAIT).await.unwrap();
    let logs = logs_of(&receiver, "events-as-logs");

    assert!(work.span.events.is_empty(), "no span event: {:?}", work.event_names());
    let inside = logs.iter().find(|l| l.body_str().as_deref() == Some("inside work")).unwrap();
    assert_eq!(inside.trace_id_hex().as_deref(), Some(work.trace_id_hex().as_str()), "correlated by trace id");
    assert_eq!(inside.span_id_hex().as_deref(), Some(work.span_id_hex().as_str()), "and by span id");
    assert_eq!(inside.attr_str("rows").as_deref(), Some("3"));

    assert!(failing.span.events.is_empty(), "no span event for the error either: {:?}", failing.event_names());
    assert_eq!(failing.status_code(), STATUS_ERROR, "an ERROR event still marks its span as failed");
    assert_eq!(work.status_code(), 0, "unset");
    let broke = logs.iter().find(|l| l.body_str().as_deref() == Some("it broke")).unwrap();
    assert_eq!(broke.span_id_hex().as_deref(), Some(failing.span_id_hex().as_str()));
    let quiet = receiver.spans().into_iter().find(|s| s.name() == "quiet").unwrap();
    assert_eq!(quiet.status_code(), 0, "an ERROR event the trace filter turns off leaves its span alone");
    assert!(logs.iter().any(|l| l.body_str().as_deref() == Some("not for traces")), "it is still a log record");

    for key in DETAILS {
        assert!(work.attr(key).is_none(), "{key} is opt-in: {:?}", work.span.attributes);
    }
    assert_eq!(work.attr_str("job").as_deref(), Some("7"), "the span's own fields stay");
    telemetry.shutdown().await;
}

/// Without OTLP logs, a span event is the only way an event inside a span leaves the process: keep it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_logs_off_an_event_inside_a_span_is_a_span_event() {
    let receiver = Receiver::start().await.unwrap();
    let telemetry = otelwright::build(config(&receiver, "events-as-span-events", false)).unwrap();
    emit(&telemetry);
    assert!(telemetry.flush().await.is_empty());
    let (work, failing) = spans(&receiver, "events-as-span-events").await;
    assert_eq!(work.event_names(), ["inside work"]);
    let event = &work.span.events[0];
    let rows = event.attributes.iter().find(|kv| kv.key == "rows").unwrap();
    assert_eq!(otelwright_receiver::any_value_str(rows.value.as_ref().unwrap()).as_deref(), Some("3"));
    assert_eq!(failing.event_names(), ["it broke"]);
    assert_eq!(failing.status_code(), STATUS_ERROR);
    assert!(logs_of(&receiver, "events-as-span-events").is_empty(), "no log pipeline");
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn span_details_appear_when_switched_on() {
    let receiver = Receiver::start().await.unwrap();
    let config = config(&receiver, "span-details", true)
        .span_location(true)
        .span_thread(true)
        .span_target(true)
        .span_inactivity(true);
    let telemetry = otelwright::build(config).unwrap();
    emit(&telemetry);
    assert!(telemetry.flush().await.is_empty());
    let (work, _) = spans(&receiver, "span-details").await;
    for key in DETAILS {
        assert!(work.attr(key).is_some(), "{key}: {:?}", work.span.attributes);
    }
    assert!(work.attr_str("code.file.path").unwrap().ends_with("span_events.rs"));
    assert_eq!(work.attr_str("target").as_deref(), Some(module_path!()));
    telemetry.shutdown().await;
}
