//! [`HttpClientLayer`] and its builder.

use std::sync::Arc;

use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::Meter;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider;
use tower_layer::Layer;

use super::service::HttpClientService;
use crate::conventions::KnownMethods;
use crate::metrics::ClientInstruments;

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

/// A tower layer for HTTP clients (hyper-util's client, a tonic `Channel`): one CLIENT span per request (so one
/// per attempt when a retry layer sits outside it), `http.client.request.duration` or, for gRPC,
/// `rpc.client.call.duration`, and `traceparent`/`tracestate`/`baggage` injected into the request.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect().await?;
/// let layer = otelwright_http::HttpClientLayer::builder().target("http://127.0.0.1:50051").build();
/// let channel = tower::ServiceBuilder::new().layer(layer).service(channel);
/// // let client = MyServiceClient::new(channel);
/// # let _ = channel; Ok(()) }
/// ```
#[derive(Clone)]
pub struct HttpClientLayer {
    pub(crate) shared: Arc<ClientShared>,
}

impl std::fmt::Debug for HttpClientLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClientLayer")
            .field("traces", &self.shared.tracer.is_some())
            .field("metrics", &self.shared.instruments.is_some())
            .finish()
    }
}

impl HttpClientLayer {
    /// Spans and metrics through the global providers.
    pub fn new() -> Self {
        HttpClientLayer::builder().build()
    }

    /// A builder to change the defaults.
    pub fn builder() -> HttpClientLayerBuilder {
        HttpClientLayerBuilder::default()
    }
}

impl Default for HttpClientLayer {
    fn default() -> Self {
        HttpClientLayer::new()
    }
}

impl<S> Layer<S> for HttpClientLayer {
    type Service = HttpClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpClientService::new(inner, self.shared.clone())
    }
}

/// Builds an [`HttpClientLayer`].
pub struct HttpClientLayerBuilder {
    tracer: Option<BoxedTracer>,
    meter: Option<Meter>,
    traces: bool,
    metrics: bool,
    propagator: Option<Box<dyn TextMapPropagator + Send + Sync>>,
    random_trace_ids: bool,
    target: Option<(Arc<str>, u16)>,
}

impl std::fmt::Debug for HttpClientLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClientLayerBuilder").finish_non_exhaustive()
    }
}

impl Default for HttpClientLayerBuilder {
    fn default() -> Self {
        HttpClientLayerBuilder {
            tracer: None,
            meter: None,
            traces: true,
            metrics: true,
            propagator: None,
            random_trace_ids: true,
            target: None,
        }
    }
}

impl HttpClientLayerBuilder {
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

    /// Record spans (default on). Off: context is still injected.
    pub fn traces(mut self, on: bool) -> Self {
        self.traces = on;
        self
    }

    /// Record metrics (default on).
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = on;
        self
    }

    /// Inject with this propagator instead of the global one.
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

    /// The channel target (`http://recommender:50051`) for `server.address`/`server.port` when request URIs carry
    /// only a path, as a tonic `Channel`'s do. A target that is not a URI with a host is ignored.
    pub fn target(mut self, target: &str) -> Self {
        if let Ok(uri) = target.parse::<http::Uri>()
            && let Some(host) = uri.host()
        {
            let default = if uri.scheme_str() == Some("https") { 443 } else { 80 };
            self.target = Some((Arc::from(host.trim_matches(['[', ']'])), uri.port_u16().unwrap_or(default)));
        }
        self
    }

    /// The layer.
    pub fn build(self) -> HttpClientLayer {
        let tracer = self
            .traces
            .then(|| self.tracer.unwrap_or_else(|| opentelemetry::global::tracer_with_scope(crate::metrics::scope())));
        let instruments =
            self.metrics.then(|| ClientInstruments::new(&self.meter.unwrap_or_else(crate::metrics::global_meter)));
        HttpClientLayer {
            shared: Arc::new(ClientShared {
                tracer,
                instruments,
                propagator: self.propagator,
                known_methods: KnownMethods::from_env(),
                random_trace_ids: self.random_trace_ids,
                target: self.target,
            }),
        }
    }
}
