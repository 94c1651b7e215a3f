//! OTEL_* parsing: any set of variables and values must give a usable Config (or warnings), never a panic.
//! Input: `NAME=value` lines; names are taken modulo the known list so every line hits a real variable.
#![no_main]

use libfuzzer_sys::fuzz_target;

const VARS: [&str; 20] = [
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_PROPAGATORS",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BLRP_SCHEDULE_DELAY",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTELWRIGHT_LOG_FORMAT",
    "RUST_LOG",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let vars: Vec<(String, String)> = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let (name, value) = line.split_once('=').unwrap_or(("", line));
            (VARS[(name.len() + i) % VARS.len()].to_owned(), value.to_owned())
        })
        .collect();
    let config = otelwright::Config::from_env_vars(vars);
    for signal in [otelwright::Signal::Traces, otelwright::Signal::Metrics, otelwright::Signal::Logs] {
        let o = config.otlp(signal);
        assert!(!o.timeout.is_zero());
    }
});
