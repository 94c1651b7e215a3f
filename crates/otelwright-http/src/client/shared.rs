//! [`ClientShared`]: what every request of one client layer reads (the tracer, instruments, propagator and
//! settings), built once by the layer's builder and held by the layer, its services, the reqwest middleware and
//! each request's exchange.

use std::sync::Arc;

use opentelemetry::global::BoxedTracer;
use opentelemetry::propagation::TextMapPropagator;

use crate::conventions::KnownMethods;
use crate::metrics::ClientInstruments;

/// One client layer's settings and instruments.
pub(crate) struct ClientShared {
    pub(crate) tracer: Option<BoxedTracer>,
    pub(crate) instruments: Option<ClientInstruments>,
    pub(crate) propagator: Option<Box<dyn TextMapPropagator + Send + Sync>>,
    pub(crate) known_methods: KnownMethods,
    /// New trace ids are random: new roots get the W3C random flag.
    pub(crate) random_trace_ids: bool,
    /// `server.address`/`server.port` for requests whose URI has no authority (a tonic `Channel` adds it inside).
    pub(crate) target: Option<(Arc<str>, u16)>,
}
