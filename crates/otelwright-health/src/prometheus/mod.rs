//! `GET /metrics` (feature `prometheus`): the opentelemetry-prometheus pull reader on the service's
//! `SdkMeterProvider`, a private `prometheus::Registry` it reports into, and the text exposition (format 0.0.4)
//! of what that registry gathers, with names translated as Prometheus' OTLP ingest translates them
//! ([`naming`]).
//!
//! One scrape = one collection of the provider (every instrument, every observable callback) on a blocking
//! thread; the endpoint caches the rendered text for a short time so concurrent scrapers share one collection.

mod naming;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry_prometheus::PrometheusExporter;
use opentelemetry_sdk::error::OTelSdkError;
use prometheus::{Registry, TextEncoder};

/// The `Content-Type` of the text exposition format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The registry behind `/metrics`. Cheap to clone.
#[derive(Clone)]
pub(crate) struct PrometheusSource {
    registry: Registry,
    /// Whether the reader was handed to a provider (else the registry would gather nothing, silently).
    installed: Arc<AtomicBool>,
}

impl std::fmt::Debug for PrometheusSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusSource").finish_non_exhaustive()
    }
}

impl PrometheusSource {
    pub(crate) fn new() -> Self {
        PrometheusSource { registry: Registry::new(), installed: Arc::default() }
    }

    /// The reader to add to the provider; it reports into this source's registry.
    pub(crate) fn exporter(&self) -> Result<PrometheusExporter, OTelSdkError> {
        let exporter = opentelemetry_prometheus::exporter().with_registry(self.registry.clone()).build()?;
        self.installed.store(true, Ordering::Release);
        Ok(exporter)
    }

    /// Collects the provider once and renders the text exposition.
    pub(crate) fn render(&self) -> Result<String, String> {
        if !self.installed.load(Ordering::Acquire) {
            return Err("the Prometheus reader is not installed on a meter provider (HealthReaders::install)".into());
        }
        let families = naming::translate(self.registry.gather());
        TextEncoder::new().encode_to_string(&families).map_err(|e| e.to_string())
    }
}
