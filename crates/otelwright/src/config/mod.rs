//! [`Config`]: every setting `init` uses, read from the standard `OTEL_*` environment variables by
//! [`Config::from_env`] and overridden by the builder methods. Bad values never fail: they become
//! [`ConfigWarning`]s and the default is used.

mod env;
mod otlp;
mod read;
mod types;

use std::path::PathBuf;
use std::time::Duration;

use opentelemetry::{KeyValue, Value};

/// The default of [`Config::slow_request_threshold`].
pub(crate) const DEFAULT_SLOW_REQUEST: Duration = Duration::from_secs(3);

pub use env::ConfigWarning;
pub(crate) use env::{Env, parse_key_values};
pub use otlp::{Compression, Protocol, ResolvedOtlp, Signal, TlsFiles};
pub(crate) use otlp::{OtlpSources, validate_endpoint};
pub(crate) use read::parse_filter;
pub use types::{
    BatchSettings, Exporter, HistogramAggregation, Limits, LogFormat, ParentRoot, Propagator, Sampler, Temporality,
};
pub(crate) use types::{MeterHook, Secret, SpanDetails};

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
    pub(crate) slow_request_threshold: Option<Duration>,
    pub(crate) http_known_methods: Option<Vec<String>>,
    pub(crate) metrics_token: Option<Secret>,
    #[cfg(feature = "health")]
    pub(crate) health_readers: Option<otelwright_health::HealthReaders>,
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
            slow_request_threshold: Some(DEFAULT_SLOW_REQUEST),
            http_known_methods: None,
            metrics_token: None,
            #[cfg(feature = "health")]
            health_readers: None,
            meter_hooks: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

impl Config {
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
        self.exporters[signal.index()] = exporters.into_iter().collect();
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

    /// Requests slower than this are logged as a `slow request` warning by [`Telemetry`](crate::Telemetry)'s
    /// server layer; `None` turns the warning off (beats `OTELWRIGHT_SLOW_REQUEST_MS`, where `0` means off;
    /// default 3 s).
    pub fn slow_request_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.slow_request_threshold = threshold;
        self
    }

    /// The HTTP methods reported as themselves in `http.request.method` (every other method is `_OTHER`), replacing
    /// the semantic conventions' default set (beats `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`).
    pub fn http_known_methods<M: Into<String>>(mut self, methods: impl IntoIterator<Item = M>) -> Self {
        self.http_known_methods = Some(methods.into_iter().map(Into::into).collect());
        self
    }

    /// The bearer token [`Telemetry`](crate::Telemetry)'s health endpoints require for `/api/v1/metrics`,
    /// `/metrics` and readiness details (beats `OTELWRIGHT_METRICS_TOKEN`; default: none).
    pub fn metrics_token(mut self, token: impl Into<String>) -> Self {
        self.metrics_token = Some(Secret(token.into()));
        self
    }

    /// Adds the two metric readers behind [`Telemetry::health`](crate::Telemetry::health)'s `/api/v1/metrics`
    /// request percentiles (a 60 s window) and `/metrics` (Prometheus text) to the meter provider. Off by default:
    /// each reader aggregates every measurement once more.
    #[cfg(feature = "health")]
    pub fn metrics_endpoints(mut self, on: bool) -> Self {
        self.health_readers = on.then(otelwright_health::HealthReaders::new);
        self
    }

    /// As [`Config::metrics_endpoints`], with readers of your own (another request window, no Prometheus).
    #[cfg(feature = "health")]
    pub fn health_readers(mut self, readers: otelwright_health::HealthReaders) -> Self {
        self.health_readers = Some(readers);
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
        if self.sdk_disabled { &[] } else { &self.exporters[signal.index()] }
    }
}

#[cfg(test)]
mod tests;
