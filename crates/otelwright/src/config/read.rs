//! How [`Config`] is read from the environment: [`Config::from_env`] and [`Config::from_env_vars`] go through one
//! [`Env`] reader, which warns once per unusable value and keeps the default.

use super::*;

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Config {
        Config::read(Env::process())
    }

    /// Reads the given variables instead of the process environment (tests, or settings loaded from a file).
    ///
    /// ```
    /// let config = otelwright::Config::from_env_vars([("OTEL_SERVICE_NAME", "api"), ("OTEL_TRACES_SAMPLER", "nope")]);
    /// assert_eq!(config.warnings().len(), 1);
    /// ```
    pub fn from_env_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Config
    where
        K: Into<String>,
        V: Into<String>,
    {
        let vars: Vec<(String, String)> = vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Config::read(Env::from_fn(move |name| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone())))
    }

    fn read(mut env: Env<'_>) -> Config {
        let mut c = Config { sdk_disabled: env.bool("OTEL_SDK_DISABLED").unwrap_or(false), ..Config::default() };
        if let Some(file) = env.string("OTEL_CONFIG_FILE") {
            env.warn(
                "OTEL_CONFIG_FILE",
                &file,
                "declarative configuration files are not supported; the OTEL_* variables are used",
            );
        }
        c.env_service_name = env.string("OTEL_SERVICE_NAME");
        if let Some(raw) = env.string("OTEL_RESOURCE_ATTRIBUTES") {
            match parse_key_values(&raw) {
                Ok(pairs) => c.env_resource = pairs,
                Err(reason) => {
                    env.warn("OTEL_RESOURCE_ATTRIBUTES", &raw, format!("{reason}; the whole variable is discarded"))
                }
            }
        }
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            let var = format!("OTEL_{}_EXPORTER", signal.env_infix());
            let metrics = signal == Signal::Metrics;
            let expected =
                if metrics { "otlp, console, none (prometheus: see otelwright-health)" } else { "otlp, console, none" };
            if let Some(list) = env.list(&var, expected, |s| match s {
                "otlp" => Some(Some(Exporter::Otlp)),
                "console" => Some(Some(Exporter::Console)),
                "none" => Some(None),
                _ => None,
            }) {
                // `none` anywhere in the list disables the signal.
                c.exporters[signal.index()] =
                    if list.contains(&None) { Vec::new() } else { list.into_iter().flatten().collect() };
            }
        }
        c.otlp = OtlpSources::read_env(&mut env);
        if let Some(list) = env.list("OTEL_PROPAGATORS", "tracecontext, baggage, none", |s| match s {
            "tracecontext" => Some(Some(Propagator::TraceContext)),
            "baggage" => Some(Some(Propagator::Baggage)),
            "none" => Some(None),
            _ => None,
        }) {
            c.propagators = if list.contains(&None) { Vec::new() } else { list.into_iter().flatten().collect() };
        }
        c.sampler = read_sampler(&mut env);
        c.span_batch = BatchSettings::spans().read(&mut env, "OTEL_BSP");
        c.log_batch = BatchSettings::logs().read(&mut env, "OTEL_BLRP");
        if let Some(d) = env.millis("OTEL_METRIC_EXPORT_INTERVAL") {
            if d.is_zero() {
                env.warn("OTEL_METRIC_EXPORT_INTERVAL", "0", "must be positive; using 60000");
            } else {
                c.metric_interval = d;
            }
        }
        if let Some(d) = env.timeout("OTEL_METRIC_EXPORT_TIMEOUT") {
            c.metric_timeout = d;
        }
        if let Some(t) =
            env.choice("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "cumulative, delta, lowmemory", |s| match s
            {
                "cumulative" => Some(Temporality::Cumulative),
                "delta" => Some(Temporality::Delta),
                "lowmemory" => Some(Temporality::LowMemory),
                _ => None,
            })
        {
            c.temporality = t;
        }
        if let Some(h) = env.choice(
            "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
            "explicit_bucket_histogram, base2_exponential_bucket_histogram",
            |s| match s {
                "explicit_bucket_histogram" => Some(HistogramAggregation::ExplicitBucket),
                "base2_exponential_bucket_histogram" => Some(HistogramAggregation::Base2Exponential),
                _ => None,
            },
        ) {
            c.histogram_aggregation = h;
        }
        // Validated so a typo is reported; the Rust SDK records no exemplars, so the value has no effect.
        let _ = env.choice("OTEL_METRICS_EXEMPLAR_FILTER", "always_on, always_off, trace_based", |s| {
            matches!(s, "always_on" | "always_off" | "trace_based").then_some(())
        });
        c.limits = Limits::read(&mut env);
        if let Some(f) = env.choice("OTELWRIGHT_LOG_FORMAT", "auto, json, pretty, off", |s| match s {
            "auto" => Some(LogFormat::Auto),
            "json" => Some(LogFormat::Json),
            "pretty" => Some(LogFormat::Pretty),
            "off" => Some(LogFormat::Off),
            _ => None,
        }) {
            c.log_format = f;
        }
        if let Some(filter) = env.string("RUST_LOG") {
            match parse_filter(&filter) {
                Ok(normalized) => c.log_filter = normalized,
                Err(e) => env.warn("RUST_LOG", &filter, format!("{e}; using \"info\"")),
            }
        }
        c.span_details = SpanDetails::read(&mut env);
        if let Some(d) = env.millis("OTELWRIGHT_SHUTDOWN_TIMEOUT_MS") {
            c.shutdown_timeout = d;
        }
        if let Some(d) = env.millis("OTELWRIGHT_SLOW_REQUEST_MS") {
            c.slow_request_threshold = (!d.is_zero()).then_some(d);
        }
        // Semconv, attribute `http.request.method`: the override "MUST be named OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS
        // and support a comma-separated list of case-sensitive known HTTP methods", and it "MUST be a full override
        // of the default known methods".
        if let Some(list) = env.string("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS") {
            let methods: Vec<String> =
                list.split(',').map(str::trim).filter(|m| !m.is_empty()).map(str::to_owned).collect();
            c.http_known_methods = Some(methods);
        }
        c.metrics_token = env.raw("OTELWRIGHT_METRICS_TOKEN").map(Secret);
        c.warnings = env.warnings;
        c
    }
}

/// Validates `EnvFilter` directives and returns them normalised (each comma-separated directive trimmed).
///
/// tracing-subscriber 0.3.23 panics on a directive with leading white space followed by a multi-byte character
/// (it slices the untrimmed text with offsets from the trimmed one; found by the `otel_env` fuzz target), so the
/// directives are trimmed first, and parsing runs under `catch_unwind` so no other upstream panic can escape.
pub(crate) fn parse_filter(directives: &str) -> Result<String, String> {
    let normalized: Vec<&str> = directives.split(',').map(str::trim).filter(|d| !d.is_empty()).collect();
    let normalized = normalized.join(",");
    match std::panic::catch_unwind(|| tracing_subscriber::EnvFilter::try_new(&normalized).map(|_| ())) {
        Ok(Ok(())) => Ok(normalized),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the filter parser panicked on this value".to_owned()),
    }
}

fn read_sampler(env: &mut Env<'_>) -> Sampler {
    #[derive(Clone, Copy)]
    enum Kind {
        On,
        Off,
        Ratio,
        PbOn,
        PbOff,
        PbRatio,
    }
    let kind = env.choice(
        "OTEL_TRACES_SAMPLER",
        "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio",
        |s| match s {
            "always_on" => Some(Kind::On),
            "always_off" => Some(Kind::Off),
            "traceidratio" => Some(Kind::Ratio),
            "parentbased_always_on" => Some(Kind::PbOn),
            "parentbased_always_off" => Some(Kind::PbOff),
            "parentbased_traceidratio" => Some(Kind::PbRatio),
            _ => None,
        },
    );
    let needs_ratio = matches!(kind, Some(Kind::Ratio | Kind::PbRatio));
    let ratio = if needs_ratio { env.ratio("OTEL_TRACES_SAMPLER_ARG").unwrap_or(1.0) } else { 1.0 };
    match kind.unwrap_or(Kind::PbOn) {
        Kind::On => Sampler::AlwaysOn,
        Kind::Off => Sampler::AlwaysOff,
        Kind::Ratio => Sampler::TraceIdRatio(ratio),
        Kind::PbOn => Sampler::ParentBased(ParentRoot::AlwaysOn),
        Kind::PbOff => Sampler::ParentBased(ParentRoot::AlwaysOff),
        Kind::PbRatio => Sampler::ParentBased(ParentRoot::TraceIdRatio(ratio)),
    }
}
