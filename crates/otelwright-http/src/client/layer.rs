//! [`HttpClientLayer`] and its builder: which signals to record, the known methods, the channel target, and where
//! the tracer, meter and propagator come from. It reads no environment variable.

use std::sync::Arc;

use tower_layer::Layer;

use super::service::HttpClientService;
use super::shared::ClientShared;
use crate::conventions::rules::uri_server;
use crate::instrumentation::{Instrumentation, instrumentation_setters};
use crate::metrics::ClientInstruments;

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
#[derive(Default)]
pub struct HttpClientLayerBuilder {
    instrumentation: Instrumentation,
    target: Option<(Arc<str>, u16)>,
}

impl std::fmt::Debug for HttpClientLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClientLayerBuilder").finish_non_exhaustive()
    }
}

impl HttpClientLayerBuilder {
    instrumentation_setters!();

    /// The channel target (`http://recommender:50051`) for `server.address`/`server.port` when request URIs carry
    /// only a path, as a tonic `Channel`'s do. A target that is not a URI with a host is ignored.
    pub fn target(mut self, target: &str) -> Self {
        if let Ok(uri) = target.parse::<http::Uri>()
            && let Some(server) = uri_server(&uri)
        {
            self.target = Some(server);
        }
        self
    }

    /// The layer.
    pub fn build(self) -> HttpClientLayer {
        let resolved = self.instrumentation.resolve();
        HttpClientLayer {
            shared: Arc::new(ClientShared {
                tracer: resolved.tracer,
                instruments: resolved.meter.as_ref().map(ClientInstruments::new),
                propagator: resolved.propagator,
                known_methods: resolved.known_methods,
                random_trace_ids: resolved.random_trace_ids,
                target: self.target,
            }),
        }
    }
}
