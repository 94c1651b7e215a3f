//! [`HealthReaders`]: the metric readers the endpoints need on the service's `SdkMeterProvider` — the request
//! window's periodic reader and (feature `prometheus`) the opentelemetry-prometheus pull reader — created once
//! and added to the provider's builder by [`HealthReaders::install`].
//!
//! Readers can only be added while the provider is built. With `otelwright::init`, pass `install` to the
//! config's meter-provider hook; with a hand-built provider, call it on the builder (example below).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry_sdk::metrics::{MeterProviderBuilder, PeriodicReader};

use crate::window::{DEFAULT_STEP, DEFAULT_WINDOW, RequestWindow};

struct Inner {
    window: RequestWindow,
    #[cfg(feature = "prometheus")]
    prometheus: Option<crate::prometheus::PrometheusSource>,
    installed: AtomicBool,
}

/// The metric readers behind `/api/v1/metrics` (the request window) and `/metrics` (Prometheus). Create one,
/// [`install`](HealthReaders::install) it on the provider builder, and give it to
/// [`crate::HealthBuilder::readers`]. Cheap to clone.
///
/// ```
/// use opentelemetry::metrics::MeterProvider;
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
///
/// let readers = otelwright_health::HealthReaders::new();
/// let provider = readers.install(SdkMeterProvider::builder()).build();
/// let layer = otelwright_http::HttpServerLayer::builder().meter_provider(&provider).build();
/// let health = otelwright_health::Health::builder().readers(&readers).build();
/// # let _ = (layer, health);
/// ```
#[derive(Clone)]
pub struct HealthReaders {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HealthReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let installed = self.inner.installed.load(Ordering::Relaxed);
        f.debug_struct("HealthReaders")
            .field("window", &self.inner.window.window())
            .field("step", &self.inner.window.step())
            .field("prometheus", &self.has_prometheus())
            .field("installed", &installed)
            .finish()
    }
}

impl Default for HealthReaders {
    fn default() -> Self {
        HealthReaders::new()
    }
}

impl HealthReaders {
    /// A 60 s request window collected every 5 s, plus the Prometheus reader when the feature is on.
    pub fn new() -> Self {
        HealthReaders::build(DEFAULT_WINDOW, DEFAULT_STEP, true)
    }

    /// Replaces the request window: `window` long, collected every `step`. Call before
    /// [`install`](HealthReaders::install).
    pub fn request_window(self, window: Duration, step: Duration) -> Self {
        HealthReaders::build(window, step, self.has_prometheus())
    }

    /// Leaves out the Prometheus reader (`/metrics` is then not served). Call before
    /// [`install`](HealthReaders::install).
    pub fn without_prometheus(self) -> Self {
        HealthReaders::build(self.inner.window.window(), self.inner.window.step(), false)
    }

    fn build(window: Duration, step: Duration, prometheus: bool) -> Self {
        #[cfg(not(feature = "prometheus"))]
        let _ = prometheus;
        HealthReaders {
            inner: Arc::new(Inner {
                window: RequestWindow::new(window, step),
                #[cfg(feature = "prometheus")]
                prometheus: prometheus.then(crate::prometheus::PrometheusSource::new),
                installed: AtomicBool::new(false),
            }),
        }
    }

    /// Adds the readers to `builder`: the window's `PeriodicReader` (its thread starts now) and the Prometheus
    /// reader. The readers go to one provider only: a second call logs a warning and returns `builder`
    /// unchanged.
    pub fn install(&self, builder: MeterProviderBuilder) -> MeterProviderBuilder {
        if self.inner.installed.swap(true, Ordering::AcqRel) {
            tracing::warn!("HealthReaders::install called twice; the readers stay on the first provider");
            return builder;
        }
        let window = &self.inner.window;
        let builder =
            builder.with_reader(PeriodicReader::builder(window.exporter()).with_interval(window.step()).build());
        #[cfg(feature = "prometheus")]
        let builder = match self.inner.prometheus.as_ref().map(|p| p.exporter()) {
            Some(Ok(exporter)) => builder.with_reader(exporter),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "the Prometheus reader could not be created; /metrics answers 503");
                builder
            }
            None => builder,
        };
        builder
    }

    /// [`install`](HealthReaders::install) as a closure, for a config hook that takes
    /// `Fn(MeterProviderBuilder) -> MeterProviderBuilder`.
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// let readers = otelwright_health::HealthReaders::new();
    /// let hook = readers.hook();
    /// let provider = hook(SdkMeterProvider::builder()).build();
    /// # let _ = provider;
    /// ```
    pub fn hook(&self) -> impl Fn(MeterProviderBuilder) -> MeterProviderBuilder + Send + Sync + 'static {
        let readers = self.clone();
        move |builder| readers.install(builder)
    }

    /// The request window these readers feed.
    pub fn window(&self) -> &RequestWindow {
        &self.inner.window
    }

    /// Whether `/metrics` can be served (feature `prometheus` on and the reader created).
    pub fn has_prometheus(&self) -> bool {
        #[cfg(feature = "prometheus")]
        return self.inner.prometheus.is_some();
        #[cfg(not(feature = "prometheus"))]
        false
    }

    #[cfg(feature = "prometheus")]
    pub(crate) fn prometheus(&self) -> Option<&crate::prometheus::PrometheusSource> {
        self.inner.prometheus.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::metrics::MeterProvider;
    use opentelemetry_sdk::metrics::SdkMeterProvider;

    use super::*;

    /// A provider with one instrument (a reader exports nothing from a provider without any).
    fn with_counter(provider: SdkMeterProvider) -> SdkMeterProvider {
        provider.meter("test").u64_counter("things").build().add(1, &[]);
        provider
    }

    #[test]
    fn the_readers_go_to_one_provider() {
        let readers = HealthReaders::new();
        let first = with_counter(readers.install(SdkMeterProvider::builder()).build());
        let second = with_counter(readers.hook()(SdkMeterProvider::builder()).build());
        second.force_flush().unwrap();
        assert_eq!(readers.window().stats().collections, 0, "the second provider has no window reader");
        first.force_flush().unwrap();
        assert_eq!(readers.window().stats().collections, 1);
        assert!(format!("{readers:?}").contains("installed: true"));
    }

    #[test]
    fn settings_survive_rebuilding() {
        let readers =
            HealthReaders::new().without_prometheus().request_window(Duration::from_secs(10), Duration::from_secs(2));
        assert!(!readers.has_prometheus());
        assert_eq!(
            (readers.window().window(), readers.window().step()),
            (Duration::from_secs(10), Duration::from_secs(2))
        );
    }
}
