//! [`Shared`]: what every request of one server layer reads (the tracer, instruments, propagator, route source and
//! settings), built once by the layer's builder and held by the layer, its services and each request's exchange.

use std::time::Duration;

use opentelemetry::global::BoxedTracer;
use opentelemetry::propagation::TextMapPropagator;

use crate::conventions::KnownMethods;
use crate::metrics::ServerInstruments;
use crate::route::RouteSource;

/// One server layer's settings and instruments.
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
