//! [`Config`]: every setting `init` uses, read from the standard `OTEL_*` environment variables by
//! [`Config::from_env`] and overridden by the builder methods. Bad values never fail: they become
//! [`ConfigWarning`]s and the default is used.

mod env;
mod otlp;

use std::path::PathBuf;
use std::time::Duration;

use opentelemetry::{KeyValue, Value};

pub use env::ConfigWarning;
pub(crate) use env::{Env, parse_key_values};
pub use otlp::{Compression, Protocol, ResolvedOtlp, Signal, TlsFiles};
pub(crate) use otlp::{OtlpSources, validate_endpoint};

/// Where a signal goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exporter {
    /// OTLP over the configured protocol.
    Otlp,
    /// Human-readable output on stdout, for development.
    Console,
}

/// A context propagator named in `OTEL_PROPAGATORS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagator {
    /// W3C Trace Context (`traceparent`, `tracestate`).
    TraceContext,
    /// W3C Baggage (`baggage`).
    Baggage,
}

/// The sampler, from `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampler {
    /// Sample everything.
    AlwaysOn,
    /// Sample nothing.
    AlwaysOff,
    /// Sample this fraction of traces by trace id.
    TraceIdRatio(f64),
    /// Follow the parent's decision; roots use the inner sampler.
    ParentBased(ParentRoot),
}

/// The root sampler of [`Sampler::ParentBased`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParentRoot {
    /// Roots are sampled.
    AlwaysOn,
    /// Roots are not sampled.
    AlwaysOff,
    /// Roots are sampled by this ratio.
    TraceIdRatio(f64),
}

/// Metric temporality preference (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Temporality {
    /// Everything cumulative (what Prometheus needs).
    #[default]
    Cumulative,
    /// Counters and histograms delta, up-down counters cumulative.
    Delta,
    /// Synchronous counters and histograms delta, the rest cumulative.
    LowMemory,
}

/// Default histogram aggregation (`OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HistogramAggregation {
    /// Explicit buckets (instrument advice, else the SDK defaults).
    #[default]
    ExplicitBucket,
    /// Base-2 exponential buckets.
    Base2Exponential,
}

/// How log lines are written to stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Pretty when stdout is a terminal, JSON otherwise.
    #[default]
    Auto,
    /// One JSON object per line with `trace_id`, `span_id` and span fields.
    Json,
    /// Human-readable, coloured when stdout is a terminal.
    Pretty,
    /// No stdout output (OTLP log export is unaffected).
    Off,
}

/// Batch processor settings (`OTEL_BSP_*`, `OTEL_BLRP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSettings {
    /// Delay between two exports.
    pub schedule_delay: Duration,
    /// Limit of one export: the exporter's timeout is capped to it (the SDK's processors have none of their own).
    pub export_timeout: Duration,
    /// Items buffered before new ones are dropped.
    pub max_queue_size: usize,
    /// Items per export.
    pub max_export_batch_size: usize,
    /// Export requests in flight at once (OTLP over gRPC and HTTP/protobuf; HTTP/JSON and the console export one
    /// batch at a time).
    pub max_concurrent_exports: usize,
}

impl BatchSettings {
    /// The spec's defaults for spans (`OTEL_BSP_*`): 5 s delay, 30 s timeout, queue 2048, batch 512; and 2
    /// exports in flight.
    pub fn spans() -> Self {
        BatchSettings {
            schedule_delay: Duration::from_millis(5000),
            export_timeout: Duration::from_millis(30000),
            max_queue_size: 2048,
            max_export_batch_size: 512,
            max_concurrent_exports: 2,
        }
    }

    /// The spec's defaults for log records (`OTEL_BLRP_*`): as for spans but with a 1 s delay.
    pub fn logs() -> Self {
        BatchSettings { schedule_delay: Duration::from_millis(1000), ..BatchSettings::spans() }
    }

    fn read(mut self, env: &mut Env<'_>, prefix: &str) -> Self {
        if let Some(d) = env.millis(&format!("{prefix}_SCHEDULE_DELAY")) {
            self.schedule_delay = d;
        }
        if let Some(d) = env.timeout(&format!("{prefix}_EXPORT_TIMEOUT")) {
            self.export_timeout = d;
        }
        if let Some(n) = env.count(&format!("{prefix}_MAX_QUEUE_SIZE"), 1 << 24) {
            self.max_queue_size = n as usize;
        }
        let var = format!("{prefix}_MAX_EXPORT_BATCH_SIZE");
        if let Some(n) = env.count(&var, 1 << 24) {
            if n as usize > self.max_queue_size {
                env.warn(&var, &n.to_string(), format!("larger than the queue; using {}", self.max_queue_size));
                self.max_export_batch_size = self.max_queue_size;
            } else {
                self.max_export_batch_size = n as usize;
            }
        }
        self.max_export_batch_size = self.max_export_batch_size.min(self.max_queue_size);
        // Not in the spec: the Rust SDK's variable (for spans only; its thread processor ignores it). No OTEL_BLRP_
        // counterpart exists, so log records keep the default unless set in code.
        if prefix == "OTEL_BSP"
            && let Some(n) = env.count("OTEL_BSP_MAX_CONCURRENT_EXPORTS", MAX_CONCURRENT_EXPORTS)
        {
            self.max_concurrent_exports = n as usize;
        }
        self
    }
}

/// The most export requests allowed in flight at once.
const MAX_CONCURRENT_EXPORTS: u64 = 64;

/// Span and log-record limits (`OTEL_ATTRIBUTE_*`, `OTEL_SPAN_*`, `OTEL_EVENT_*`, `OTEL_LINK_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Attributes per span.
    pub span_attribute_count: u32,
    /// Events per span.
    pub span_event_count: u32,
    /// Links per span.
    pub span_link_count: u32,
    /// Attributes per span event.
    pub event_attribute_count: u32,
    /// Attributes per span link.
    pub link_attribute_count: u32,
    /// Longest string attribute value on spans and their events, in characters (`None`: no limit).
    pub span_attribute_value_length: Option<usize>,
    /// Attributes per log record (OTLP over gRPC and HTTP/protobuf).
    pub log_record_attribute_count: u32,
    /// Longest attribute value on log records, in characters (`None`: no limit; OTLP over gRPC and HTTP/protobuf).
    pub log_record_attribute_value_length: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            span_attribute_count: 128,
            span_event_count: 128,
            span_link_count: 128,
            event_attribute_count: 128,
            link_attribute_count: 128,
            span_attribute_value_length: None,
            log_record_attribute_count: 128,
            log_record_attribute_value_length: None,
        }
    }
}

const MAX_LIMIT: u64 = 1 << 20;

impl Limits {
    fn read(env: &mut Env<'_>) -> Self {
        let mut l = Limits::default();
        // Spec `configuration/sdk-environment-variables.md`, "Attribute Limits": the general limits apply to every
        // signal's attributes unless a model-specific one is set.
        let general = env.count("OTEL_ATTRIBUTE_COUNT_LIMIT", MAX_LIMIT).map(|n| n as u32);
        if let Some(n) = general {
            (l.span_attribute_count, l.event_attribute_count, l.link_attribute_count) = (n, n, n);
            l.log_record_attribute_count = n;
        }
        let mut set = |var: &str, field: &mut u32| {
            if let Some(n) = env.count(var, MAX_LIMIT) {
                *field = n as u32;
            }
        };
        set("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", &mut l.span_attribute_count);
        set("OTEL_SPAN_EVENT_COUNT_LIMIT", &mut l.span_event_count);
        set("OTEL_SPAN_LINK_COUNT_LIMIT", &mut l.span_link_count);
        set("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", &mut l.event_attribute_count);
        set("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", &mut l.link_attribute_count);
        set("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", &mut l.log_record_attribute_count);
        let general = env.count("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", MAX_LIMIT).map(|n| n as usize);
        let span = env.count("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", MAX_LIMIT).map(|n| n as usize);
        let log = env.count("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", MAX_LIMIT).map(|n| n as usize);
        l.span_attribute_value_length = span.or(general);
        l.log_record_attribute_value_length = log.or(general);
        l
    }
}

/// What tracing-opentelemetry adds to each span it makes from a `tracing` span. All off by default: each is
/// work on every span (and `thread.name` an allocation), and again bytes at export; the span name and fields say
/// what ran. Switched on with the `OTELWRIGHT_SPAN_*` variables or the `Config::span_*` methods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SpanDetails {
    /// `code.file.path`, `code.module.name` and `code.line.number` (`OTELWRIGHT_SPAN_LOCATION`).
    pub(crate) location: bool,
    /// `thread.id` and `thread.name` (`OTELWRIGHT_SPAN_THREAD`).
    pub(crate) thread: bool,
    /// `target`, the `tracing` target (`OTELWRIGHT_SPAN_TARGET`).
    pub(crate) target: bool,
    /// `busy_ns` and `idle_ns`, two clock reads per poll (`OTELWRIGHT_SPAN_INACTIVITY`).
    pub(crate) inactivity: bool,
}

impl SpanDetails {
    fn read(env: &mut Env<'_>) -> Self {
        let mut on = |name: &str| env.bool(name).unwrap_or(false);
        SpanDetails {
            location: on("OTELWRIGHT_SPAN_LOCATION"),
            thread: on("OTELWRIGHT_SPAN_THREAD"),
            target: on("OTELWRIGHT_SPAN_TARGET"),
            inactivity: on("OTELWRIGHT_SPAN_INACTIVITY"),
        }
    }
}

/// A function that adds to the meter provider before it is built (readers, views), e.g.
/// `otelwright_health::HealthReaders::install` for the Prometheus endpoint and the JSON snapshot's percentiles.
#[derive(Clone)]
pub(crate) struct MeterHook(
    pub(crate)  std::sync::Arc<
        dyn Fn(opentelemetry_sdk::metrics::MeterProviderBuilder) -> opentelemetry_sdk::metrics::MeterProviderBuilder
            + Send
            + Sync,
    >,
);

impl std::fmt::Debug for MeterHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MeterHook")
    }
}

/// Everything [`crate::init`] needs. Start from [`Config::from_env`] (or [`Config::default`], which ignores the
/// environment) and override with the builder methods: a builder setting always beats the environment.
///
/// ```
/// use std::time::Duration;
/// let config = otelwright::Config::from_env()
///     .service_name("checkout")
///     .service_version("1.4.2")
///     .protocol(otelwright::Protocol::Grpc)
///     .shutdown_timeout(Duration::from_secs(3));
/// assert_eq!(config.otlp(otelwright::Signal::Traces).protocol, otelwright::Protocol::Grpc);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) sdk_disabled: bool,
    pub(crate) service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    pub(crate) service_namespace: Option<String>,
    pub(crate) deployment_environment: Option<String>,
    pub(crate) resource_attributes: Vec<KeyValue>,
    pub(crate) env_service_name: Option<String>,
    pub(crate) env_resource: Vec<(String, String)>,
    pub(crate) exporters: [Vec<Exporter>; 3],
    pub(crate) otlp: OtlpSources,
    pub(crate) propagators: Vec<Propagator>,
    pub(crate) sampler: Sampler,
    pub(crate) span_batch: BatchSettings,
    pub(crate) log_batch: BatchSettings,
    pub(crate) metric_interval: Duration,
    pub(crate) metric_timeout: Duration,
    pub(crate) temporality: Temporality,
    pub(crate) histogram_aggregation: HistogramAggregation,
    pub(crate) limits: Limits,
    pub(crate) log_format: LogFormat,
    pub(crate) log_filter: String,
    pub(crate) trace_filter: String,
    pub(crate) span_details: SpanDetails,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) meter_hooks: Vec<MeterHook>,
    pub(crate) warnings: Vec<ConfigWarning>,
}

impl Default for Config {
    /// The spec's defaults, without reading the environment.
    fn default() -> Self {
        Config {
            sdk_disabled: false,
            service_name: None,
            service_version: None,
            service_namespace: None,
            deployment_environment: None,
            resource_attributes: Vec::new(),
            env_service_name: None,
            env_resource: Vec::new(),
            exporters: [vec![Exporter::Otlp], vec![Exporter::Otlp], vec![Exporter::Otlp]],
            otlp: OtlpSources::default(),
            propagators: vec![Propagator::TraceContext, Propagator::Baggage],
            sampler: Sampler::ParentBased(ParentRoot::AlwaysOn),
            span_batch: BatchSettings::spans(),
            log_batch: BatchSettings::logs(),
            metric_interval: Duration::from_millis(60_000),
            metric_timeout: Duration::from_millis(30_000),
            temporality: Temporality::Cumulative,
            histogram_aggregation: HistogramAggregation::ExplicitBucket,
            limits: Limits::default(),
            log_format: LogFormat::Auto,
            log_filter: "info".to_owned(),
            trace_filter: "info".to_owned(),
            span_details: SpanDetails::default(),
            shutdown_timeout: Duration::from_secs(5),
            meter_hooks: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

fn signal_index(signal: Signal) -> usize {
    match signal {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
    }
}

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
                c.exporters[signal_index(signal)] =
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
        c.warnings = env.warnings;
        c
    }

    /// The values that could not be used (each names the variable and the value). `init` logs them once.
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.warnings
    }

    /// `service.name` (beats `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// `service.version`.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// `service.namespace`.
    pub fn service_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.service_namespace = Some(namespace.into());
        self
    }

    /// `deployment.environment.name` (`production`, `staging`, `development`, ...).
    pub fn deployment_environment(mut self, environment: impl Into<String>) -> Self {
        self.deployment_environment = Some(environment.into());
        self
    }

    /// Any other resource attribute; code-supplied attributes win over the environment.
    pub fn resource_attribute(mut self, key: impl Into<opentelemetry::Key>, value: impl Into<Value>) -> Self {
        self.resource_attributes.push(KeyValue::new(key, value));
        self
    }

    /// The OTLP protocol for all signals.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.otlp.code_generic.protocol = Some(protocol);
        self
    }

    /// The OTLP protocol for one signal.
    pub fn signal_protocol(mut self, signal: Signal, protocol: Protocol) -> Self {
        self.otlp.signal_mut(signal).protocol = Some(protocol);
        self
    }

    /// The collector's base URL for all signals (`/v1/<signal>` is appended for HTTP). [`crate::init`] fails with
    /// [`crate::Error::InvalidEndpoint`] if this is not an `http(s)` URL or a `host:port` (which means `https`
    /// unless [`otlp_insecure`](Config::otlp_insecure) is set).
    pub fn otlp_endpoint(mut self, url: impl Into<String>) -> Self {
        self.otlp.code_generic.endpoint = Some(url.into());
        self
    }

    /// The exact URL for one signal, used as is.
    pub fn signal_endpoint(mut self, signal: Signal, url: impl Into<String>) -> Self {
        self.otlp.signal_mut(signal).endpoint = Some(url.into());
        self
    }

    /// A header (gRPC metadata) sent with every export, for example an API key.
    pub fn otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.otlp.code_generic.headers.get_or_insert_with(Vec::new).push((name.into(), value.into()));
        self
    }

    /// The timeout of one export call.
    pub fn otlp_timeout(mut self, timeout: Duration) -> Self {
        self.otlp.code_generic.timeout = Some(timeout);
        self
    }

    /// Payload compression for all signals.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.otlp.code_generic.compression = Some(compression);
        self
    }

    /// CA certificates (a PEM file) to trust for `https` endpoints instead of the system's trust store, for all
    /// signals. [`crate::init`] fails with [`crate::Error::Tls`] if the file cannot be read or holds no certificate.
    pub fn otlp_certificate(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.otlp.code_generic.tls.certificate = Some(pem_file.into());
        self
    }

    /// A client certificate chain and its private key (PEM files) for mutual TLS, for all signals.
    pub fn otlp_client_identity(mut self, certificate: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        let tls = &mut self.otlp.code_generic.tls;
        tls.client_certificate = Some(certificate.into());
        tls.client_key = Some(key.into());
        self
    }

    /// Whether an endpoint written as `host:port` (no scheme) means `http` (`true`) or `https` (`false`, the
    /// default), as `OTEL_EXPORTER_OTLP_INSECURE` does. Endpoints with a scheme are used as written.
    pub fn otlp_insecure(mut self, insecure: bool) -> Self {
        self.otlp.code_generic.insecure = Some(insecure);
        self
    }

    /// Where one signal goes; an empty list turns the signal off.
    pub fn exporters(mut self, signal: Signal, exporters: impl IntoIterator<Item = Exporter>) -> Self {
        self.exporters[signal_index(signal)] = exporters.into_iter().collect();
        self
    }

    /// The sampler.
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = sampler;
        self
    }

    /// The propagators installed globally (an empty list installs none).
    pub fn propagators(mut self, propagators: impl IntoIterator<Item = Propagator>) -> Self {
        self.propagators = propagators.into_iter().collect();
        self
    }

    /// The span batch processor's settings.
    pub fn span_batch(mut self, settings: BatchSettings) -> Self {
        self.span_batch = settings;
        self
    }

    /// The log batch processor's settings.
    pub fn log_batch(mut self, settings: BatchSettings) -> Self {
        self.log_batch = settings;
        self
    }

    /// The metric export interval.
    pub fn metric_interval(mut self, interval: Duration) -> Self {
        if !interval.is_zero() {
            self.metric_interval = interval;
        }
        self
    }

    /// The metric temporality preference.
    pub fn temporality(mut self, temporality: Temporality) -> Self {
        self.temporality = temporality;
        self
    }

    /// Span and log-record limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The stdout log format.
    pub fn log_format(mut self, format: LogFormat) -> Self {
        self.log_format = format;
        self
    }

    /// The `EnvFilter` directives for stdout and OTLP logs (default `RUST_LOG`, else `info`). An invalid directive
    /// string is reported as a warning and `info` is used.
    pub fn log_filter(mut self, directives: impl Into<String>) -> Self {
        let directives = directives.into();
        match parse_filter(&directives) {
            Ok(normalized) => self.log_filter = normalized,
            Err(e) => self.warnings.push(ConfigWarning {
                variable: "log_filter".into(),
                value: directives,
                reason: format!("{e}; using \"info\""),
            }),
        }
        self
    }

    /// The `EnvFilter` directives that pick which `tracing` spans become OpenTelemetry spans (default `info`,
    /// independent of `RUST_LOG` so quieting logs never loses traces). An invalid string warns and keeps `info`.
    pub fn trace_filter(mut self, directives: impl Into<String>) -> Self {
        let directives = directives.into();
        match parse_filter(&directives) {
            Ok(normalized) => self.trace_filter = normalized,
            Err(e) => self.warnings.push(ConfigWarning {
                variable: "trace_filter".into(),
                value: directives,
                reason: format!("{e}; using \"info\""),
            }),
        }
        self
    }

    /// Source location on spans made from `tracing` spans: `code.file.path`, `code.module.name`,
    /// `code.line.number` (default off, or `OTELWRIGHT_SPAN_LOCATION`). Also on span events.
    pub fn span_location(mut self, on: bool) -> Self {
        self.span_details.location = on;
        self
    }

    /// `thread.id` and `thread.name` on spans made from `tracing` spans (default off, or `OTELWRIGHT_SPAN_THREAD`).
    pub fn span_thread(mut self, on: bool) -> Self {
        self.span_details.thread = on;
        self
    }

    /// The `tracing` target as a `target` attribute on spans made from `tracing` spans (default off, or
    /// `OTELWRIGHT_SPAN_TARGET`).
    pub fn span_target(mut self, on: bool) -> Self {
        self.span_details.target = on;
        self
    }

    /// `busy_ns` and `idle_ns` (time entered and not entered) on spans made from `tracing` spans (default off, or
    /// `OTELWRIGHT_SPAN_INACTIVITY`); costs two clock reads on every poll of an instrumented future.
    pub fn span_inactivity(mut self, on: bool) -> Self {
        self.span_details.inactivity = on;
        self
    }

    /// The total time `shutdown` (and `Drop`) may take for all three signals (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Adds to the meter provider before it is built: extra readers (a Prometheus pull reader, the request
    /// window of `otelwright-health`) or views. With a hook the provider is built even when no metrics exporter is
    /// configured (a service that only serves `/metrics`), but not when the SDK is disabled.
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
    /// let reader = PeriodicReader::builder(InMemoryMetricExporter::default()).build();
    /// let reader = std::sync::Mutex::new(Some(reader));
    /// let config = otelwright::Config::default().meter_provider_hook(move |builder| match reader.lock().unwrap().take() {
    ///     Some(r) => builder.with_reader(r),
    ///     None => builder,
    /// });
    /// # let _ = config;
    /// ```
    pub fn meter_provider_hook(
        mut self,
        hook: impl Fn(opentelemetry_sdk::metrics::MeterProviderBuilder) -> opentelemetry_sdk::metrics::MeterProviderBuilder
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.meter_hooks.push(MeterHook(std::sync::Arc::new(hook)));
        self
    }

    /// Turns every signal off (as `OTEL_SDK_DISABLED=true`); stdout logging and propagators stay on.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.sdk_disabled = disabled;
        self
    }

    /// The resolved OTLP settings of one signal.
    pub fn otlp(&self, signal: Signal) -> ResolvedOtlp {
        self.otlp.resolve(signal)
    }

    /// The exporters configured for one signal (empty when the signal is off or the SDK is disabled).
    pub fn signal_exporters(&self, signal: Signal) -> &[Exporter] {
        if self.sdk_disabled { &[] } else { &self.exporters[signal_index(signal)] }
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

#[cfg(test)]
mod tests;
