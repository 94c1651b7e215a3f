//! What [`Telemetry`] hands out already bound to its own providers, propagator and settings, so a service wires
//! one object: the HTTP/gRPC server and client layers, the reqwest middleware, the per-request dispatch layer,
//! the resource/pool/cache meters and the health endpoints. The crates' own builders stay for custom setups;
//! these never read the environment (the [`Config`](crate::Config) did).

#[cfg(feature = "http")]
use otelwright_http::{
    DispatchLayer, HttpClientLayer, HttpClientLayerBuilder, HttpServerLayer, HttpServerLayerBuilder,
};

use super::Telemetry;

/// Binds a layer builder (server or client: they share these setters) to the pipeline: its tracer and meter
/// providers (traces or metrics off when it has none), its propagator and the known HTTP methods.
#[cfg(feature = "http")]
macro_rules! bind {
    ($telemetry:expr, $builder:expr) => {{
        let t: &Telemetry = $telemetry;
        let mut builder = $builder
            .propagator(crate::propagation::composite(&t.config.propagators))
            .traces(t.tracer.is_some())
            .metrics(t.meter.is_some());
        if let Some(provider) = &t.tracer {
            builder = builder.tracer_provider(provider);
        }
        if let Some(provider) = &t.meter {
            builder = builder.meter_provider(provider);
        }
        if let Some(methods) = &t.config.http_known_methods {
            builder = builder.known_methods(methods.iter().cloned());
        }
        builder
    }};
}

impl Telemetry {
    /// The server layer's builder, bound to this pipeline: its tracer and meter providers (traces or metrics off
    /// when the pipeline has none), its propagator (`OTEL_PROPAGATORS`), the slow-request threshold
    /// (`OTELWRIGHT_SLOW_REQUEST_MS`) and the known HTTP methods (`OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS`). Add
    /// route sources, excluded paths and the like, then `build()`.
    #[cfg(feature = "http")]
    pub fn server_layer_builder(&self) -> HttpServerLayerBuilder {
        let builder = HttpServerLayer::builder().slow_request_threshold(self.config.slow_request_threshold);
        bind!(self, builder)
    }

    /// A SERVER span and the `http.server.*` (or `rpc.server.*`) metrics per request, with `X-Request-ID`,
    /// `X-Response-Time` and the slow-request warning: [`Telemetry::server_layer_builder`] built.
    ///
    /// ```
    /// let telemetry = otelwright::build(otelwright::Config::default().disabled(true))?;
    /// let layer = telemetry.server_layer(); // `.layer(layer)` on an axum Router or a tonic Server
    /// # let _ = layer;
    /// # Ok::<(), otelwright::Error>(())
    /// ```
    #[cfg(feature = "http")]
    pub fn server_layer(&self) -> HttpServerLayer {
        self.server_layer_builder().build()
    }

    /// The client layer's builder, bound like [`Telemetry::server_layer_builder`]. Name the peer with `target`.
    #[cfg(feature = "http")]
    pub fn client_layer_builder(&self) -> HttpClientLayerBuilder {
        bind!(self, HttpClientLayer::builder())
    }

    /// A CLIENT span and `http.client.request.duration` (or `rpc.client.call.duration`) per outgoing request, the
    /// trace context injected into its headers: for hyper-util clients and tonic channels.
    #[cfg(feature = "http")]
    pub fn client_layer(&self) -> HttpClientLayer {
        self.client_layer_builder().build()
    }

    /// The same for reqwest-middleware clients:
    /// `reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).with(telemetry.reqwest_middleware())`.
    #[cfg(feature = "reqwest")]
    pub fn reqwest_middleware(&self) -> otelwright_http::OtelMiddleware {
        self.client_layer().into()
    }

    /// Handles each request with this pipeline's subscriber, for a process that runs several services, each with
    /// its own pipeline (from [`crate::build`]). Put it outermost.
    #[cfg(feature = "http")]
    pub fn dispatch_layer(&self) -> DispatchLayer {
        DispatchLayer::new(self.dispatch.clone())
    }

    /// The resource meters (`process.*`, `system.*`, sampled at the metric export interval off the request path)
    /// and empty pool and cache registries, their instruments registered on this pipeline's meter provider. Add
    /// pools with `meters.pools` and caches with `meters.caches`; give the result to [`Telemetry::health`].
    #[cfg(feature = "meters")]
    pub fn meters(&self) -> Result<otelwright_meters::Meters, otelwright_meters::ResourceError> {
        let resources = otelwright_meters::ResourceConfig::default().refresh_interval(self.config.metric_interval);
        let meters = otelwright_meters::Meters::new().with_resources(resources)?;
        if let Some(provider) = &self.meter {
            meters.register(provider);
        }
        Ok(meters)
    }

    /// The health endpoints' builder over `meters`: `/health/live`, `/health/ready` (add checks; each one's latest
    /// result is exported as `health.check.status`), `/api/v1/metrics` and, with [`Config::metrics_endpoints`](crate::Config::metrics_endpoints), the request percentiles and
    /// `/metrics`; guarded by `OTELWRIGHT_METRICS_TOKEN` or [`Config::metrics_token`](crate::Config::metrics_token).
    #[cfg(feature = "health")]
    pub fn health(&self, meters: &otelwright_meters::Meters) -> otelwright_health::HealthBuilder {
        let mut builder = otelwright_health::Health::builder().meters(meters);
        if let Some(provider) = &self.meter {
            builder = builder.meter_provider(provider);
        }
        if let Some(readers) = &self.config.health_readers {
            builder = builder.readers(readers);
        }
        match &self.config.metrics_token {
            Some(token) => builder.token(token.0.clone()),
            None => builder,
        }
    }
}
