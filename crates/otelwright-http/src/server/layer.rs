//! [`HttpServerLayer`] and its builder: which signals to record, the headers to add, the slow-request threshold,
//! paths left out of tracing, the known methods, and where the tracer, meter, propagator and route come from. It
//! reads no environment variable: every setting comes through the builder.

use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::service::HttpServerService;
use super::shared::Shared;
use crate::instrumentation::{Instrumentation, instrumentation_setters};
use crate::metrics::ServerInstruments;
use crate::route::{MatchedPathRoute, RouteSource};

/// Default threshold of the `slow request` warning.
pub const DEFAULT_SLOW_REQUEST: Duration = Duration::from_secs(3);

/// Paths left out of tracing and metrics by default (they still get the headers).
pub const DEFAULT_EXCLUDED: [&str; 4] = ["/health", "/healthz", "/ready", "/metrics"];

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
    /// the default headers, slow-request threshold, known methods and excluded paths.
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
    instrumentation: Instrumentation,
    body_sizes: bool,
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

impl Default for HttpServerLayerBuilder {
    fn default() -> Self {
        HttpServerLayerBuilder {
            instrumentation: Instrumentation::default(),
            body_sizes: false,
            route: Box::new(MatchedPathRoute),
            request_id: true,
            response_time: true,
            slow: Some(DEFAULT_SLOW_REQUEST),
            excluded: DEFAULT_EXCLUDED.iter().map(|s| (*s).to_owned()).collect(),
            #[cfg(feature = "axum-ws")]
            ws_message_events: false,
        }
    }
}

impl HttpServerLayerBuilder {
    instrumentation_setters!();

    /// Also record `http.server.request.body.size` and `http.server.response.body.size` (opt-in).
    pub fn body_size_metrics(mut self, on: bool) -> Self {
        self.body_sizes = on;
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

    /// Log `slow request` at WARN above this duration (`None` turns it off). Default
    /// [`DEFAULT_SLOW_REQUEST`] (3 s); this crate reads no environment variable: `otelwright` passes
    /// `OTELWRIGHT_SLOW_REQUEST_MS` here.
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
        let resolved = self.instrumentation.resolve();
        let meter = resolved.meter;
        let instruments = meter.as_ref().map(|meter| ServerInstruments::new(meter, self.body_sizes));
        HttpServerLayer {
            shared: Arc::new(Shared {
                tracer: resolved.tracer,
                instruments,
                propagator: resolved.propagator,
                route: self.route,
                known_methods: resolved.known_methods,
                random_trace_ids: resolved.random_trace_ids,
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
