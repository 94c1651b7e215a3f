//! One call sets up OpenTelemetry traces, metrics and logs for a Rust service, configured by the standard
//! `OTEL_*` environment variables (including the ones the Rust SDK itself ignores), with resource detection,
//! OTLP over gRPC or HTTP (protobuf or JSON), JSON log lines that carry trace ids, and a shutdown that never hangs.
//!
//! ```no_run
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let telemetry = otelwright::init(otelwright::Config::from_env().service_version(env!("CARGO_PKG_VERSION")))?;
//!     tracing::info!("started"); // a JSON line on stdout and an OTLP log record
//!     let requests = opentelemetry::global::meter("shop").u64_counter("shop.requests").build();
//!     requests.add(1, &[]);
//!     telemetry.shutdown().await; // flushes all three signals within the deadline; Drop does the same
//!     Ok(())
//! }
//! ```
//!
//! Application code keeps using `tracing` (spans, events, `#[instrument]`); metrics use the OpenTelemetry API
//! (`opentelemetry::global::meter`, or [`Telemetry::meter`]).

mod config;
mod error;
mod export;
mod limits;
pub mod measure;
mod pipeline;
mod propagation;
mod resource;
mod selfobs;
mod shutdown;
mod subscriber;
mod telemetry;
mod tls;

pub use config::{
    BatchSettings, Compression, Config, ConfigWarning, Exporter, HistogramAggregation, Limits, LogFormat, ParentRoot,
    Propagator, Protocol, ResolvedOtlp, Sampler, Signal, Temporality, TlsFiles,
};
pub use error::Error;
/// The workspace's one list of metric names and bucket sets (otelwright-core).
pub use otelwright_core::{buckets, metric};
#[cfg(feature = "health")]
pub use otelwright_health as health;
#[cfg(feature = "http")]
pub use otelwright_http as http;
#[cfg(feature = "meters")]
pub use otelwright_meters as meters;
pub use selfobs::{ExportStats, SignalCounts};
pub use shutdown::ShutdownReport;
pub use telemetry::Telemetry;

#[doc(hidden)]
pub use measure::__private;

/// The OTLP encoder, public only for its bench, its conformance tests and its fuzz target: not an API.
#[doc(hidden)]
pub mod __encode {
    pub use crate::export::encode::{AttributeLimits, EncodedLogRecord, LogEncoder, TraceEncoder};
}
/// Records `function.calls` and `function.calls.duration` for a function; see [`measure`].
pub use otelwright_macros::measured;

/// Builds the pipeline and installs it process-wide: the `tracing` subscriber, the global tracer and meter
/// providers, and the propagators from `OTEL_PROPAGATORS`. Configuration warnings are logged once, as WARN events.
///
/// Fails only for what cannot work: an endpoint set in code that is not an `http` URL, or a global subscriber
/// that is already installed.
pub fn init(config: Config) -> Result<Telemetry, Error> {
    if tracing::dispatcher::has_been_set() {
        return Err(Error::SubscriberAlreadySet);
    }
    let (mut telemetry, warnings) = assemble(&config)?;
    telemetry.install_global_providers();
    if tracing::dispatcher::set_global_default(telemetry.dispatch().clone()).is_err() {
        return Err(Error::SubscriberAlreadySet);
    }
    log_warnings(&config, &warnings);
    Ok(telemetry)
}

/// Builds the pipeline without installing anything globally: use [`Telemetry::dispatch`] with
/// `tracing::dispatcher::with_default` and [`Telemetry::meter`]. For tests and for hosts that manage their own
/// subscriber. Configuration warnings are logged through the returned dispatch.
pub fn build(config: Config) -> Result<Telemetry, Error> {
    let (telemetry, warnings) = assemble(&config)?;
    tracing::dispatcher::with_default(telemetry.dispatch(), || log_warnings(&config, &warnings));
    Ok(telemetry)
}

/// The propagator `init` installs for a config (for code that propagates without the global).
pub fn propagator(
    config: &Config,
) -> impl opentelemetry::propagation::TextMapPropagator + Send + Sync + 'static + use<> {
    propagation::composite(&config.propagators)
}

/// The telemetry, and the warnings found while building it (beyond those the configuration found reading).
fn assemble(config: &Config) -> Result<(Telemetry, Vec<ConfigWarning>), Error> {
    let resource = resource::build(config);
    // The health endpoints' readers go on the meter provider as it is built.
    #[cfg(feature = "health")]
    let config = &match &config.health_readers {
        Some(readers) => config.clone().meter_provider_hook(readers.hook()),
        None => config.clone(),
    };
    let mut providers = pipeline::build(config, &resource)?;
    let warnings = std::mem::take(&mut providers.warnings);
    let dispatch = subscriber::build(config, &providers, std::io::stdout);
    let telemetry = Telemetry::new(providers, dispatch, resource, config.clone());
    Ok((telemetry, warnings))
}

fn log_warnings(config: &Config, found_building: &[ConfigWarning]) {
    for w in config.warnings().iter().chain(found_building) {
        tracing::warn!(variable = %w.variable, value = %w.value, reason = %w.reason, "otelwright configuration: {w}");
    }
}
