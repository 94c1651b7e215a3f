//! [`Telemetry`]: the handle `init` and `build` return, and the one object a service wires. It owns the
//! providers, and hands out what records into them: meters, the subscriber (as a dispatch or as layers for a
//! registry of your own), the HTTP and gRPC layers and the reqwest middleware bound to its providers and
//! propagator, the resource/pool/cache meters and the health endpoints. It shuts everything down within the
//! configured deadline on `shutdown().await`, `shutdown_blocking()` or `Drop`.

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

mod bound;

use crate::config::Config;
use crate::pipeline::Providers;
use crate::selfobs::{ExportStats, Stats};
use crate::shutdown::{self, ShutdownReport};

/// Owns the telemetry pipeline. Keep it alive for the life of the service; shut it down (or drop it) at the end.
pub struct Telemetry {
    providers: Option<Providers>,
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
    logger: Option<SdkLoggerProvider>,
    dispatch: tracing::Dispatch,
    resource: Resource,
    config: Config,
    global: bool,
    stats: Stats,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("traces", &self.tracer.is_some())
            .field("metrics", &self.meter.is_some())
            .field("logs", &self.logger.is_some())
            .field("deadline", &self.config.shutdown_timeout)
            .field("global", &self.global)
            .finish()
    }
}

impl Telemetry {
    pub(crate) fn new(providers: Providers, dispatch: tracing::Dispatch, resource: Resource, config: Config) -> Self {
        Telemetry {
            tracer: providers.tracer.clone(),
            meter: providers.meter.clone(),
            logger: providers.logger.clone(),
            stats: providers.stats.clone(),
            providers: Some(providers),
            dispatch,
            resource,
            config,
            global: false,
        }
    }

    /// Makes this pipeline OpenTelemetry's global one: the tracer and meter providers and the propagator of
    /// `OTEL_PROPAGATORS` (what [`crate::init`] does besides installing the subscriber). For a subscriber
    /// composed from [`Telemetry::layers`]; shutting down then puts no-op providers back.
    pub fn install_global_providers(&mut self) {
        opentelemetry::global::set_text_map_propagator(crate::propagation::composite(&self.config.propagators));
        if let Some(p) = &self.tracer {
            opentelemetry::global::set_tracer_provider(p.clone());
        }
        if let Some(p) = &self.meter {
            opentelemetry::global::set_meter_provider(p.clone());
            crate::measure::global_meter_provider_changed();
        }
        self.global = true;
    }

    /// The subscriber's layers (stdout lines, spans to traces, events to logs), for a registry you compose with
    /// layers of your own, e.g. a `tracing-appender` file writer:
    ///
    /// ```no_run
    /// use tracing_subscriber::layer::SubscriberExt as _;
    /// use tracing_subscriber::util::SubscriberInitExt as _;
    ///
    /// let mut telemetry = otelwright::build(otelwright::Config::from_env())?;
    /// tracing_subscriber::registry()
    ///     .with(telemetry.layers())
    ///     .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
    ///     .init();
    /// telemetry.install_global_providers();
    /// # Ok::<(), otelwright::Error>(())
    /// ```
    ///
    /// Each call makes a new set over the same providers.
    pub fn layers<S>(&self) -> impl tracing_subscriber::Layer<S> + Send + Sync + use<S>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
    {
        crate::subscriber::layers(&self.config, self.tracer.as_ref(), self.logger.as_ref(), std::io::stdout)
    }

    /// A meter from this pipeline's provider (a no-op meter when metrics are off).
    ///
    /// ```
    /// let telemetry = otelwright::build(otelwright::Config::default().disabled(true)).unwrap();
    /// let orders = telemetry.meter("shop").u64_counter("shop.orders").build();
    /// orders.add(1, &[]);
    /// ```
    pub fn meter(&self, name: &'static str) -> Meter {
        match &self.meter {
            Some(p) => p.meter(name),
            None => opentelemetry::metrics::noop::NoopMeterProvider::new().meter(name),
        }
    }

    /// The tracer provider, when traces are on.
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.tracer.as_ref()
    }

    /// The meter provider, when metrics are on (register readers' instruments here).
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.meter.as_ref()
    }

    /// The logger provider, when logs are on.
    pub fn logger_provider(&self) -> Option<&SdkLoggerProvider> {
        self.logger.as_ref()
    }

    /// The subscriber as a dispatch: `init` installs it globally; with [`crate::build`] use it with
    /// `tracing::dispatcher::with_default` or `set_default`.
    pub fn dispatch(&self) -> &tracing::Dispatch {
        &self.dispatch
    }

    /// Items exported, dropped (queue full) and failed per signal since start: the same counts
    /// `otelwright.exporter.items` exports.
    pub fn export_stats(&self) -> ExportStats {
        self.stats.snapshot()
    }

    /// The resource every signal carries.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// Exports what is buffered now, waiting at most the shutdown deadline. Runs on a helper thread, so it is
    /// safe on any runtime. Returns the providers' errors.
    pub async fn flush(&self) -> Vec<String> {
        let (tracer, meter, logger) = (self.tracer.clone(), self.meter.clone(), self.logger.clone());
        let deadline = self.config.shutdown_timeout;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new().name("otelwright-flush".into()).spawn(move || {
            let (inner_tx, inner_rx) = std::sync::mpsc::channel();
            let worker = std::thread::Builder::new().name("otelwright-flush-run".into()).spawn(move || {
                let mut errors = Vec::new();
                let mut note = |s: &str, r: opentelemetry_sdk::error::OTelSdkResult| {
                    if let Err(e) = r {
                        errors.push(format!("{s}: {e}"));
                    }
                };
                if let Some(p) = tracer {
                    note("traces", p.force_flush());
                }
                if let Some(p) = logger {
                    note("logs", p.force_flush());
                }
                if let Some(p) = meter {
                    note("metrics", p.force_flush());
                }
                let _ = inner_tx.send(errors);
            });
            let result = match worker {
                Ok(_) => inner_rx.recv_timeout(deadline).unwrap_or_else(|_| vec!["flush timed out".to_owned()]),
                Err(e) => vec![format!("could not start the flush thread: {e}")],
            };
            let _ = tx.send(result);
        });
        if let Err(e) = spawned {
            return vec![format!("could not start the flush thread: {e}")];
        }
        rx.await.unwrap_or_else(|_| vec!["flush thread stopped".to_owned()])
    }

    /// Flushes and shuts down traces, then logs, then metrics, returning within the deadline (default 5 s) even
    /// when the collector is unreachable. Never blocks the executor it is awaited on.
    pub async fn shutdown(mut self) -> ShutdownReport {
        match self.take() {
            Some(p) => shutdown::non_blocking(p, self.config.shutdown_timeout).await,
            None => ShutdownReport::default(),
        }
    }

    /// As [`Telemetry::shutdown`], blocking the calling thread (for code outside any async runtime).
    pub fn shutdown_blocking(mut self) -> ShutdownReport {
        match self.take() {
            Some(p) => shutdown::blocking(p, self.config.shutdown_timeout),
            None => ShutdownReport::default(),
        }
    }

    fn take(&mut self) -> Option<Providers> {
        let providers = self.providers.take()?;
        if self.global {
            // The global providers hold clones; replace them so nothing records into a shut-down pipeline.
            opentelemetry::global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
            opentelemetry::global::set_meter_provider(opentelemetry::metrics::noop::NoopMeterProvider::new());
            crate::measure::global_meter_provider_changed();
        }
        Some(providers)
    }
}

impl Drop for Telemetry {
    /// Shuts down like [`Telemetry::shutdown_blocking`] if that has not happened yet.
    fn drop(&mut self) {
        if let Some(p) = self.take() {
            let deadline = self.config.shutdown_timeout;
            let report = shutdown::blocking(p, deadline);
            if report.timed_out {
                tracing::warn!(deadline_ms = deadline.as_millis() as u64, "telemetry shutdown timed out");
            }
        }
    }
}
