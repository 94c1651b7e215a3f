//! otelwright's own span and log export, end to end over real sockets to otelwright-receiver: requests in flight at
//! once, log records carrying their event time, and the log-record attribute limits from the environment.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use otelwright::{BatchSettings, Config, LogFormat, Protocol, Signal, Telemetry};
use otelwright_receiver::{Fault, Receiver};

const WAIT: Duration = Duration::from_secs(20);

fn endpoint(receiver: &Receiver, protocol: Protocol) -> String {
    match protocol {
        Protocol::Grpc => receiver.grpc_endpoint(),
        _ => receiver.http_endpoint(),
    }
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// With a receiver that holds every answer, two batches are at the receiver before either is answered: two
/// requests in flight at once (one at a time, the second would start only after the first was stored).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_exports_are_in_flight_at_once() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let receiver = Receiver::start().await.unwrap();
        receiver.set_fault(Fault::Delay(Duration::from_secs(5)));
        let batches = BatchSettings {
            schedule_delay: Duration::from_secs(3600),
            max_queue_size: 64,
            max_export_batch_size: 4,
            max_concurrent_exports: 2,
            ..BatchSettings::spans()
        };
        let telemetry = otelwright::build(
            Config::default()
                .protocol(protocol)
                .otlp_endpoint(endpoint(&receiver, protocol))
                .otlp_timeout(Duration::from_secs(10))
                .exporters(Signal::Logs, [])
                .exporters(Signal::Metrics, [])
                .span_batch(batches)
                .log_format(LogFormat::Off)
                .shutdown_timeout(Duration::from_millis(300)),
        )
        .unwrap();
        tracing::dispatcher::with_default(telemetry.dispatch(), || {
            for i in 0..8 {
                tracing::info_span!("concurrent", i).in_scope(|| {});
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(4);
        while receiver.faulted_requests() < 2 {
            assert!(std::time::Instant::now() < deadline, "{protocol:?}: the second request never started");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(receiver.spans().is_empty(), "{protocol:?}: a request was answered before the second started");
        telemetry.shutdown().await;
    }
}

fn log_pipeline(receiver: &Receiver, protocol: Protocol, vars: &[(&str, &str)]) -> Telemetry {
    let config = Config::from_env_vars(vars.iter().copied())
        .protocol(protocol)
        .otlp_endpoint(endpoint(receiver, protocol))
        .exporters(Signal::Traces, [])
        .exporters(Signal::Metrics, [])
        .log_format(LogFormat::Off);
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    otelwright::build(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_records_carry_their_event_time() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let receiver = Receiver::start().await.unwrap();
        let telemetry = log_pipeline(&receiver, protocol, &[]);
        let before = nanos(SystemTime::now());
        tracing::dispatcher::with_default(telemetry.dispatch(), || tracing::info!("timed"));
        let after = nanos(SystemTime::now());
        assert!(telemetry.flush().await.is_empty());
        let logs = receiver.wait_for_logs(|l| !l.is_empty(), WAIT).await.unwrap();
        let record = &logs[0].record;
        assert!(
            (before..=after).contains(&record.time_unix_nano),
            "{protocol:?}: time_unix_nano {} is not the event's time ({before}..={after})",
            record.time_unix_nano
        );
        assert!((before..=after).contains(&record.observed_time_unix_nano), "{protocol:?}");
        assert!(telemetry.shutdown().await.is_clean());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_record_attribute_limits_come_from_the_environment() {
    let receiver = Receiver::start().await.unwrap();
    // The variables, how many attributes are kept, and the first one's value.
    type Case<'a> = (&'a [(&'a str, &'a str)], usize, &'a str);
    let cases: [Case<'_>; 3] = [
        (
            &[("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "2"), ("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4")],
            2,
            "abcd",
        ),
        // The general limits apply to log records too.
        (&[("OTEL_ATTRIBUTE_COUNT_LIMIT", "3"), ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "5")], 3, "abcde"),
        // A log-record limit beats the general one.
        (&[("OTEL_ATTRIBUTE_COUNT_LIMIT", "1"), ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "4")], 4, "abcdefgh"),
    ];
    for (vars, kept, first) in cases {
        receiver.clear();
        let telemetry = log_pipeline(&receiver, Protocol::Grpc, vars);
        tracing::dispatcher::with_default(telemetry.dispatch(), || {
            tracing::info!(a = "abcdefgh", b = 2_i64, c = "c", d = 4_i64, e = "e", "limited");
        });
        assert!(telemetry.flush().await.is_empty());
        let logs = receiver.wait_for_logs(|l| !l.is_empty(), WAIT).await.unwrap();
        let record = &logs[0].record;
        assert_eq!(record.attributes.len(), kept, "{vars:?}: {:?}", record.attributes);
        assert_eq!(record.dropped_attributes_count as usize, 5 - kept, "{vars:?}");
        assert_eq!(logs[0].attr_str("a").as_deref(), Some(first), "{vars:?}");
        assert_eq!(logs[0].body_str().as_deref(), Some("limited"), "the body is not an attribute");
        telemetry.shutdown().await;
    }
}
