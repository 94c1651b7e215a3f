//! What the server and client layer builders share: where spans and metrics go (tracer and meter provider, or the
//! global ones), whether each is recorded, the propagator, the random-trace-id flag and the known HTTP methods.
//! [`Instrumentation`] holds it, and [`instrumentation_setters!`] writes the builders' setters for it once.

use opentelemetry::InstrumentationScope;
use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::Meter;
use opentelemetry::propagation::TextMapPropagator;

use crate::conventions::KnownMethods;

/// The scope of this crate's spans and instruments: its name, version and the semconv schema it follows.
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("otelwright-http")
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url("https://opentelemetry.io/schemas/1.37.0")
        .build()
}

/// A builder's shared settings (see the module docs).
pub(crate) struct Instrumentation {
    pub(crate) tracer: Option<BoxedTracer>,
    pub(crate) meter: Option<Meter>,
    pub(crate) traces: bool,
    pub(crate) metrics: bool,
    pub(crate) propagator: Option<Box<dyn TextMapPropagator + Send + Sync>>,
    pub(crate) random_trace_ids: bool,
    pub(crate) known_methods: KnownMethods,
}

impl Default for Instrumentation {
    fn default() -> Self {
        Instrumentation {
            tracer: None,
            meter: None,
            traces: true,
            metrics: true,
            propagator: None,
            random_trace_ids: true,
            known_methods: KnownMethods::default(),
        }
    }
}

/// The settings a built layer uses: the tracer when spans are on, the meter when metrics are on (the global
/// providers' when none was given).
pub(crate) struct Resolved {
    pub(crate) tracer: Option<BoxedTracer>,
    pub(crate) meter: Option<Meter>,
    pub(crate) propagator: Option<Box<dyn TextMapPropagator + Send + Sync>>,
    pub(crate) random_trace_ids: bool,
    pub(crate) known_methods: KnownMethods,
}

impl Instrumentation {
    pub(crate) fn resolve(self) -> Resolved {
        let tracer =
            self.traces.then(|| self.tracer.unwrap_or_else(|| opentelemetry::global::tracer_with_scope(scope())));
        let meter =
            self.metrics.then(|| self.meter.unwrap_or_else(|| opentelemetry::global::meter_with_scope(scope())));
        Resolved {
            tracer,
            meter,
            propagator: self.propagator,
            random_trace_ids: self.random_trace_ids,
            known_methods: self.known_methods,
        }
    }
}

/// The setters of [`Instrumentation`] for a builder with an `instrumentation` field.
macro_rules! instrumentation_setters {
    () => {
        /// Spans from this provider instead of the global one, under this crate's scope (name, version, schema
        /// URL).
        pub fn tracer_provider<P>(mut self, provider: &P) -> Self
        where
            P: opentelemetry::trace::TracerProvider,
            P::Tracer: Send + Sync + 'static,
            <P::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
        {
            self.instrumentation.tracer = Some(opentelemetry::global::BoxedTracer::new(Box::new(
                provider.tracer_with_scope($crate::instrumentation::scope()),
            )));
            self
        }

        /// Instruments from this provider instead of the global one, under this crate's scope (name, version,
        /// schema URL).
        pub fn meter_provider<P>(mut self, provider: &P) -> Self
        where
            P: opentelemetry::metrics::MeterProvider + ?Sized,
        {
            self.instrumentation.meter = Some(provider.meter_with_scope($crate::instrumentation::scope()));
            self
        }

        /// Record spans (default on). Off: metrics only; a client layer still injects the current context.
        pub fn traces(mut self, on: bool) -> Self {
            self.instrumentation.traces = on;
            self
        }

        /// Record metrics (default on). Off: spans only.
        pub fn metrics(mut self, on: bool) -> Self {
            self.instrumentation.metrics = on;
            self
        }

        /// Extract (server) or inject (client) with this propagator instead of the global one (on a server, the
        /// strict W3C front end still runs first).
        pub fn propagator(
            mut self,
            propagator: impl opentelemetry::propagation::TextMapPropagator + Send + Sync + 'static,
        ) -> Self {
            self.instrumentation.propagator = Some(Box::new(propagator));
            self
        }

        /// Whether the tracer's `IdGenerator` draws at least the right-most 7 bytes of every new trace id at random
        /// (default on: the SDK's `RandomIdGenerator`, which `otelwright::init` installs, draws all 16). Then the
        /// traces this layer starts carry the W3C random flag (`0x02`), as Trace Context Level 2 asks ("When at
        /// least the right-most 7 bytes of the `trace-id` are randomly (or pseudo-randomly) generated, the
        /// `random-trace-id` flag SHOULD be set to `1`"). Turn it off for a provider whose generator is not random:
        /// the flag then promises what the ids do not keep.
        pub fn random_trace_ids(mut self, on: bool) -> Self {
            self.instrumentation.random_trace_ids = on;
            self
        }

        /// The HTTP methods reported as themselves in `http.request.method`; any other is `_OTHER` (its name in
        /// `http.request.method_original`). A full, case-sensitive override of the semantic conventions' default
        /// set (the RFC 9110 methods plus `PATCH` and `QUERY`), as `OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS` is;
        /// an empty list keeps the default set. This crate reads no environment variable: `otelwright` passes the
        /// variable's value here.
        pub fn known_methods<I, M>(mut self, methods: I) -> Self
        where
            I: IntoIterator<Item = M>,
            M: Into<String>,
        {
            self.instrumentation.known_methods = $crate::conventions::KnownMethods::new(methods);
            self
        }
    };
}

pub(crate) use instrumentation_setters;
