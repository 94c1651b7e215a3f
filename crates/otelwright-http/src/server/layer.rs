//! [`HttpServerLayer`] and its builder: which signals to record, the headers to add, the slow-request threshold,
//! paths left out of tracing, and where the tracer, meter, propagator and route come from.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::Meter;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider;
use tower_layer::Layer;

use super::service::HttpServerService;
use crate::conventions::KnownMethods;
use crate::metrics::ServerInstruments;
use crate::route::{MatchedPathRoute, RouteSource};

/// Default threshold of the `slow request` warning.
pub const DEFAULT_SLOW_REQUEST: Duration = Duration::from_secs(3);

/// Paths left out of tracing and metrics by default (they still get the headers).
pub const DEFAULT_EXCLUDED: [&str; 4] = ["/health", "/healthz", "/ready", "/metrics"];

pub(crate) struct Shared {
    pub(crate) tracer: Option<BoxedTracer>,
    pub(crate) instruments: Option<ServerInstruments>,
    pub(crate) propagator: Option<Box<dyn TextMapPropagator + Send + Sync>>,
    pub(crate) route: Box<dyn RouteSource>,
    pub(crate) known_methods: KnownMethods,
    /// New trace ids are random: new roots get the W3C random flag.
    pub(crate) random_trace_ids: bool,
    pub(crate) request_id: bool,
    pub(crate) response_time: bool,
    pub(crate) slow: Option<Duration>,
    pub(crate) excluded: Vec<String>,
    /// The `websocket.server.*` instruments (when metrics are on).
    #[cfg(feature = "axum-ws")]
    pub(crate) ws_instruments: Option<crate::ws::WsInstruments>,
    /// Record every WebSocket message as a span event (off by default).
    #[cfg(feature = "axum-ws")]
    pub(crate) ws_message_events: bool,
}

impl Shared {
    /// Whether `path` is one of the excluded paths or below one (`/health` covers `/health/live`).
    pub(crate) fn excluded(&self, path: &str) -> bool {
        self.excluded.iter().any(|p| {
            path.strip_prefix(p.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || p.ends_with('/'))
        })
    }
}

/// A tower layer that makes every request a SERVER span and a measurement by the HTTP (or, for
/// `application/grpc`, the RPC) semantic conventions, propagates W3C trace context strictly, adds `X-Request-ID`
/// and `X-Response-Time`, and logs slow requests.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "ada" }))
///     .layer(otelwright_http::HttpServerLayer::new());
/// ```
#[derive(Clone)]
pub struct HttpServerLayer {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for HttpServerLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServerLayer")
            .field("traces", &self.shared.tracer.is_some())
            .field("metrics", &self.shared.instruments.is_some())
            .field("slow", &self.shared.slow)
            .field("excluded", &self.shared.excluded)
            .finish()
    }
}

impl HttpServerLayer {
    /// Traces and metrics through the global providers (install them first, e.g. with `otelwright::init`), with
    /// the default headers, threshold (or `OTELWRIGHT_SLOW_REQUEST_MS`) and excluded paths.
    pub fn new() -> Self {
        HttpServerLayer::builder().build()
    }

    /// A builder to change the defaults.
    pub fn builder() -> HttpServerLayerBuilder {
        HttpServerLayerBuilder::default()
    }
}

impl Default for HttpServerLayer {
    fn default() -> Self {
        HttpServerLayer::new()
    }
}

impl<S> Layer<S> for HttpServerLayer {
    type Service = HttpServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpServerService::new(inner, self.shared.clone())
    }
}

/// Builds an [`HttpServerLayer`].
pub struct HttpServerLayerBuilder {
    tracer: Option<BoxedTracer>,
    meter: Option<Meter>,
    traces: bool,
    metrics: bool,
    body_sizes: bool,
    propagator: Option<Box<dyn TextMapPropagator + Send + Sync>>,
    random_trace_ids: bool,
    route: Box<dyn RouteSource>,
    request_id: bool,
    response_time: bool,
    slow: Option<Duration>,
    excluded: Vec<String>,
    #[cfg(feature = "axum-ws")]
    ws_message_events: bool,
}

impl std::fmt::Debug for HttpServerLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServerLayerBuilder").finish_non_exhaustive()
    }
}

/// `OTELWRIGHT_SLOW_REQUEST_MS`, warning once (at layer construction) on a bad value.
fn slow_from_env() -> Option<Duration> {
    match std::env::var("OTELWRIGHT_SLOW_REQUEST_MS") {
        Ok(v) if v.trim().is_empty() => Some(DEFAULT_SLOW_REQUEST),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(0) => None,
            Ok(ms) => Some(Duration::from_millis(ms)),
            Err(_) => {
                tracing::warn!(
                    variable = "OTELWRIGHT_SLOW_REQUEST_MS",
                    value = %v,
                    "not a whole number of milliseconds; using the default of 3000"
                );
                Some(DEFAULT_SLOW_REQUEST)
            }
        },
        Err(_) => Some(DEFAULT_SLOW_REQUEST),
    }
}

impl Default for HttpServerLayerBuilder {
    fn default() -> Self {
        HttpServerLayerBuilder {
            tracer: None,
            meter: None,
            traces: true,
            metrics: true,
            body_sizes: false,
            propagator: None,
            random_trace_ids: true,
            route: Box::new(MatchedPathRoute),
            request_id: true,
            response_time: true,
            slow: slow_from_env(),
            excluded: DEFAULT_EXCLUDED.iter().map(|s| (*s).to_owned()).collect(),
            #[cfg(feature = "axum-ws")]
            ws_message_events: false,
        }
    }
}

impl HttpServerLayerBuilder {
    /// Spans from this provider instead of the global one.
    pub fn tracer_provider<P>(mut self, provider: &P) -> Self
    where
        P: TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
    {
        self.tracer = Some(BoxedTracer::new(Box::new(provider.tracer_with_scope(crate::metrics::scope()))));
        self
    }

    /// Instruments from this meter instead of the global meter provider.
    pub fn meter(mut self, meter: Meter) -> Self {
        self.meter = Some(meter);
        self
    }

    /// Record spans (default on). Off: metrics only.
    pub fn traces(mut self, on: bool) -> Self {
        self.traces = on;
        self
    }

    /// Record metrics (default on). Off: spans only.
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = on;
        self
    }

    /// Also record `http.server.request.body.size` and `http.server.response.body.size` (opt-in).
    pub fn body_size_metrics(mut self, on: bool) -> Self {
        self.body_sizes = on;
        self
    }

    /// Extract with this propagator instead of the global one (the strict W3C front end still runs first).
    pub fn propagator(mut self, propagator: impl TextMapPropagator + Send + Sync + 'static) -> Self {
        self.propagator = Some(Box::new(propagator));
        self
    }

    /// Whether the tracer's `IdGenerator` draws at least the right-most 7 bytes of every new trace id at random
    /// (default on: the SDK's `RandomIdGenerator`, which `otelwright::init` installs, draws all 16). Then the
    /// traces this layer starts carry the W3C random flag (`0x02`), as Trace Context Level 2 asks ("When at least
    /// the right-most 7 bytes of the `trace-id` are randomly (or pseudo-randomly) generated, the `random-trace-id`
    /// flag SHOULD be set to `1`"). Turn it off for a provider whose generator is not random: the flag then
    /// promises what the ids do not keep.
    pub fn random_trace_ids(mut self, on: bool) -> Self {
        self.random_trace_ids = on;
        self
    }

    /// Where `http.route` comes from (default: axum's `MatchedPath`).
    pub fn route_source(mut self, source: impl RouteSource) -> Self {
        self.route = Box::new(source);
        self
    }

    /// Add `X-Request-ID` to responses (default on).
    pub fn request_id(mut self, on: bool) -> Self {
        self.request_id = on;
        self
    }

    /// Add `X-Response-Time` (milliseconds, two decimals, time to response headers) to responses (default on).
    pub fn response_time(mut self, on: bool) -> Self {
        self.response_time = on;
        self
    }

    /// Log `slow request` at WARN above this duration (`None` turns it off). Default 3 s or
    /// `OTELWRIGHT_SLOW_REQUEST_MS` (`0` turns it off).
    pub fn slow_request_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.slow = threshold;
        self
    }

    /// Paths left out of tracing and metrics (each also covers the paths below it). Replaces the defaults
    /// (`/health`, `/healthz`, `/ready`, `/metrics`).
    pub fn exclude_paths<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.excluded = paths.into_iter().map(Into::into).collect();
        self
    }

    /// Record every message of an observed WebSocket (see [`crate::ws`]) as an event on the connection's span
    /// (default off: a voice or market-data stream sends hundreds a second, and each event is kept in memory
    /// until the connection ends). The message counts on the span and the `websocket.server.*` metrics are
    /// recorded either way.
    #[cfg(feature = "axum-ws")]
    pub fn websocket_message_events(mut self, on: bool) -> Self {
        self.ws_message_events = on;
        self
    }

    /// The layer.
    pub fn build(self) -> HttpServerLayer {
        let tracer = self
            .traces
            .then(|| self.tracer.unwrap_or_else(|| opentelemetry::global::tracer_with_scope(crate::metrics::scope())));
        let meter = self.metrics.then(|| self.meter.unwrap_or_else(crate::metrics::global_meter));
        let instruments = meter.as_ref().map(|meter| ServerInstruments::new(meter, self.body_sizes));
        HttpServerLayer {
            shared: Arc::new(Shared {
                tracer,
                instruments,
                propagator: self.propagator,
                route: self.route,
                known_methods: KnownMethods::from_env(),
                random_trace_ids: self.random_trace_ids,
                request_id: self.request_id,
                response_time: self.response_time,
                slow: self.slow,
                excluded: self.excluded,
                #[cfg(feature = "axum-ws")]
                ws_instruments: meter.as_ref().map(crate::ws::WsInstruments::new),
                #[cfg(feature = "axum-ws")]
                ws_message_events: self.ws_message_events,
            }),
        }
    }
}
