//! Config parsing: defaults, precedence, and a table of bad values that must warn (naming variable and value)
//! and fall back to the default without panicking.

use super::*;

fn cfg(vars: &[(&str, &str)]) -> Config {
    Config::from_env_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn defaults_are_the_specs() {
    let c = cfg(&[]);
    assert!(c.warnings().is_empty());
    assert!(!c.sdk_disabled);
    assert_eq!(c.signal_exporters(Signal::Traces), &[Exporter::Otlp]);
    assert_eq!(c.propagators, vec![Propagator::TraceContext, Propagator::Baggage]);
    assert_eq!(c.sampler, Sampler::ParentBased(ParentRoot::AlwaysOn));
    assert_eq!(c.span_batch.schedule_delay, Duration::from_millis(5000));
    assert_eq!(c.log_batch.schedule_delay, Duration::from_millis(1000));
    assert_eq!(c.span_batch.max_queue_size, 2048);
    assert_eq!(c.span_batch.max_export_batch_size, 512);
    assert_eq!(c.span_batch.max_concurrent_exports, 2);
    assert_eq!(c.metric_interval, Duration::from_secs(60));
    assert_eq!(c.temporality, Temporality::Cumulative);
    assert_eq!(c.limits, Limits::default());
    assert_eq!(c.span_details, SpanDetails::default(), "location, thread, target, inactivity are opt-in");
    assert!(!(c.span_details.location || c.span_details.thread || c.span_details.target));
    assert!(!c.span_details.inactivity);
}

#[test]
fn span_details_are_switched_on_by_variable_or_builder() {
    let c = cfg(&[
        ("OTELWRIGHT_SPAN_LOCATION", "true"),
        ("OTELWRIGHT_SPAN_THREAD", "TRUE"),
        ("OTELWRIGHT_SPAN_TARGET", "false"),
    ]);
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    assert_eq!(c.span_details, SpanDetails { location: true, thread: true, target: false, inactivity: false });
    let c = c.span_location(false).span_target(true).span_inactivity(true);
    assert_eq!(c.span_details, SpanDetails { location: false, thread: true, target: true, inactivity: true });
}

#[test]
fn good_values_are_honoured() {
    let c = cfg(&[
        ("OTEL_SDK_DISABLED", "TRUE"),
        ("OTEL_TRACES_EXPORTER", "console,otlp"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "console"),
        ("OTEL_PROPAGATORS", "baggage"),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "32"),
        ("OTEL_BSP_MAX_CONCURRENT_EXPORTS", "4"),
        ("OTEL_BLRP_EXPORT_TIMEOUT", "0"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1500"),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
        ("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", "base2_exponential_bucket_histogram"),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "5"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64"),
        ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "12"),
        ("OTELWRIGHT_LOG_FORMAT", "json"),
        ("RUST_LOG", "debug,h2=warn"),
    ]);
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    assert!(c.sdk_disabled);
    assert!(c.signal_exporters(Signal::Traces).is_empty(), "disabled SDK exports nothing");
    assert_eq!(c.exporters[0], vec![Exporter::Console, Exporter::Otlp]);
    assert!(c.exporters[1].is_empty());
    assert_eq!(c.exporters[2], vec![Exporter::Console]);
    assert_eq!(c.propagators, vec![Propagator::Baggage]);
    assert_eq!(c.sampler, Sampler::ParentBased(ParentRoot::TraceIdRatio(0.25)));
    assert_eq!(c.span_batch.schedule_delay, Duration::from_millis(100));
    assert_eq!(c.span_batch.max_queue_size, 64);
    assert_eq!(c.span_batch.max_export_batch_size, 32);
    assert_eq!(c.span_batch.max_concurrent_exports, 4);
    assert_eq!(c.log_batch.max_concurrent_exports, 2, "OTEL_BSP_ is for spans only");
    assert_eq!(c.log_batch.export_timeout, env::NO_LIMIT);
    assert_eq!(c.metric_interval, Duration::from_millis(1500));
    assert_eq!(c.temporality, Temporality::Delta);
    assert_eq!(c.histogram_aggregation, HistogramAggregation::Base2Exponential);
    assert_eq!(c.limits.span_attribute_count, 10);
    assert_eq!(c.limits.link_attribute_count, 10);
    assert_eq!(c.limits.span_event_count, 5);
    assert_eq!(c.limits.span_attribute_value_length, Some(64));
    assert_eq!(c.limits.log_record_attribute_count, 12, "the log-record limit beats the general one");
    assert_eq!(c.limits.log_record_attribute_value_length, Some(64), "the general limit applies to log records");
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.log_filter, "debug,h2=warn");
}

#[test]
fn propagators_none_installs_nothing() {
    assert!(cfg(&[("OTEL_PROPAGATORS", "none")]).propagators.is_empty());
}

#[test]
fn sampler_arg_only_read_for_ratio_samplers() {
    let c = cfg(&[("OTEL_TRACES_SAMPLER", "always_off"), ("OTEL_TRACES_SAMPLER_ARG", "banana")]);
    assert_eq!(c.sampler, Sampler::AlwaysOff);
    assert!(c.warnings().is_empty());
}

#[test]
fn builder_beats_environment() {
    let c = cfg(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"), ("OTEL_TRACES_SAMPLER", "always_off")])
        .protocol(Protocol::Grpc)
        .sampler(Sampler::AlwaysOn)
        .exporters(Signal::Logs, []);
    assert_eq!(c.otlp(Signal::Traces).protocol, Protocol::Grpc);
    assert_eq!(c.sampler, Sampler::AlwaysOn);
    assert!(c.signal_exporters(Signal::Logs).is_empty());
}

/// Each bad value: the variable, the value, and a check that the default survived.
#[test]
fn bad_values_warn_once_and_fall_back() {
    type Check = fn(&Config) -> bool;
    let cases: &[(&str, &str, Check)] = &[
        ("OTEL_SDK_DISABLED", "yes", |c| !c.sdk_disabled),
        ("OTEL_TRACES_EXPORTER", "zipkin", |c| c.exporters[0] == [Exporter::Otlp]),
        ("OTEL_METRICS_EXPORTER", "prometheus", |c| c.exporters[1] == [Exporter::Otlp]),
        ("OTEL_LOGS_EXPORTER", ",,", |c| c.exporters[2] == [Exporter::Otlp]),
        ("OTEL_PROPAGATORS", "b3", |c| c.propagators.len() == 2),
        ("OTEL_TRACES_SAMPLER", "sometimes", |c| c.sampler == Sampler::ParentBased(ParentRoot::AlwaysOn)),
        ("OTEL_BSP_SCHEDULE_DELAY", "5s", |c| c.span_batch.schedule_delay == Duration::from_millis(5000)),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0", |c| c.span_batch.max_queue_size == 2048),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "-1", |c| c.span_batch.max_export_batch_size == 512),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096", |c| c.span_batch.max_export_batch_size == 2048),
        ("OTEL_BSP_MAX_CONCURRENT_EXPORTS", "0", |c| c.span_batch.max_concurrent_exports == 2),
        ("OTEL_BSP_MAX_CONCURRENT_EXPORTS", "lots", |c| c.span_batch.max_concurrent_exports == 2),
        ("OTEL_BSP_MAX_CONCURRENT_EXPORTS", "65", |c| c.span_batch.max_concurrent_exports == 2),
        ("OTEL_BLRP_SCHEDULE_DELAY", "soon", |c| c.log_batch.schedule_delay == Duration::from_millis(1000)),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "lots", |c| c.log_batch.max_queue_size == 2048),
        ("OTEL_METRIC_EXPORT_INTERVAL", "0", |c| c.metric_interval == Duration::from_secs(60)),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "1e3", |c| c.metric_timeout == Duration::from_secs(30)),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "weekly", |c| c.temporality == Temporality::Cumulative),
        ("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", "hdr", |c| {
            c.histogram_aggregation == HistogramAggregation::ExplicitBucket
        }),
        ("OTEL_METRICS_EXEMPLAR_FILTER", "sometimes", |_| true),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "many", |c| c.limits.span_attribute_count == 128),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "99999999999", |c| c.limits.span_link_count == 128),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "0", |c| c.limits.span_attribute_value_length.is_none()),
        ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "-3", |c| c.limits.log_record_attribute_count == 128),
        ("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "long", |c| {
            c.limits.log_record_attribute_value_length.is_none()
        }),
        ("OTEL_RESOURCE_ATTRIBUTES", "a=1,b=%zz", |c| c.env_resource.is_empty()),
        ("OTEL_RESOURCE_ATTRIBUTES", "just-a-word", |c| c.env_resource.is_empty()),
        // `host:port` is allowed (it means https), a bare host is not.
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector", |c| {
            c.otlp(Signal::Traces).endpoint == "http://localhost:4318/v1/traces"
        }),
        ("OTEL_EXPORTER_OTLP_INSECURE", "yes", |c| c.otlp(Signal::Traces).endpoint.starts_with("http://")),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem", |c| c.otlp(Signal::Traces).tls.certificate.is_none()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift", |c| c.otlp(Signal::Traces).protocol == Protocol::HttpProtobuf),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "ten", |c| c.otlp(Signal::Logs).timeout == Duration::from_secs(10)),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "zip", |c| c.otlp(Signal::Logs).compression == Compression::None),
        ("OTEL_EXPORTER_OTLP_HEADERS", "=secret", |c| c.otlp(Signal::Logs).headers.is_empty()),
        ("OTELWRIGHT_LOG_FORMAT", "xml", |c| c.log_format == LogFormat::Auto),
        ("OTELWRIGHT_SHUTDOWN_TIMEOUT_MS", "fast", |c| c.shutdown_timeout == Duration::from_secs(5)),
        ("OTELWRIGHT_SPAN_LOCATION", "yes", |c| !c.span_details.location),
        ("OTELWRIGHT_SPAN_THREAD", "1", |c| !c.span_details.thread),
        ("OTELWRIGHT_SPAN_TARGET", "on", |c| !c.span_details.target),
        ("OTELWRIGHT_SPAN_INACTIVITY", "enabled", |c| !c.span_details.inactivity),
        ("RUST_LOG", "info,[{", |c| c.log_filter == "info"),
        ("OTEL_CONFIG_FILE", "/etc/otel.yaml", |c| c.exporters[0] == [Exporter::Otlp]),
    ];
    assert!(cases.len() >= 15);
    for (var, value, default_survived) in cases {
        let c = cfg(&[(var, value)]);
        let w = c.warnings();
        assert_eq!(w.len(), 1, "{var}={value:?} should warn exactly once, got {w:?}");
        assert_eq!(&w[0].variable, var);
        if !var.ends_with("HEADERS") {
            assert_eq!(w[0].value, *value, "the warning names the value");
        }
        assert!(w[0].to_string().contains(var), "the message names the variable: {}", w[0]);
        assert!(default_survived(&c), "{var}={value:?} did not fall back to the default");
    }
}

#[test]
fn header_values_are_not_echoed_in_warnings() {
    let c = cfg(&[("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20abc,broken")]);
    assert_eq!(c.warnings().len(), 1);
    assert!(!c.warnings()[0].to_string().contains("abc"));
}

#[test]
fn filter_directives_that_crash_tracing_subscriber_are_safe() {
    // Found by the otel_env fuzz target: white space, then a multi-byte character before `=` makes
    // tracing_subscriber::EnvFilter::try_new (0.3.23) panic on these exact values.
    for value in ["info, é=debug", " é=debug"] {
        let c = cfg(&[("RUST_LOG", value)]);
        assert!(c.warnings().is_empty(), "{value:?} is accepted once trimmed: {:?}", c.warnings());
        assert_eq!(c.log_filter, value.split(',').map(str::trim).collect::<Vec<_>>().join(","));
    }
    assert_eq!(parse_filter(" info , h2=warn ").unwrap(), "info,h2=warn");
}

#[test]
fn invalid_builder_filter_warns() {
    let c = Config::default().log_filter("[[[");
    assert_eq!(c.log_filter, "info");
    assert_eq!(c.warnings().len(), 1);
}

mod properties {
    //! The same inputs as the `otel_env` fuzz target: any value of any variable is either used or reported as a
    //! warning naming the variable; parsing never panics.
    use proptest::prelude::*;

    use super::*;

    const VARS: [&str; 30] = [
        "OTEL_SDK_DISABLED",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_PROPAGATORS",
        "OTEL_TRACES_EXPORTER",
        "OTEL_METRICS_EXPORTER",
        "OTEL_LOGS_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "OTEL_EXPORTER_OTLP_INSECURE",
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "OTEL_BSP_SCHEDULE_DELAY",
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "OTEL_BSP_MAX_CONCURRENT_EXPORTS",
        "OTEL_BLRP_EXPORT_TIMEOUT",
        "OTEL_METRIC_EXPORT_INTERVAL",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "OTELWRIGHT_LOG_FORMAT",
        "RUST_LOG",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn any_value_is_used_or_warned_about(var in proptest::sample::select(&VARS[..]), value in "\\PC{0,60}") {
            let c = cfg(&[(var, value.as_str())]);
            for w in c.warnings() {
                prop_assert_eq!(&w.variable, var);
            }
            // Whatever was read, the resolved settings are usable.
            for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
                let o = c.otlp(signal);
                prop_assert!(o.endpoint.starts_with("http://") || o.endpoint.starts_with("https://"));
                prop_assert!(!o.timeout.is_zero());
            }
            prop_assert!(c.span_batch.max_export_batch_size <= c.span_batch.max_queue_size);
            prop_assert!((1..=64).contains(&c.span_batch.max_concurrent_exports));
        }
    }
}
