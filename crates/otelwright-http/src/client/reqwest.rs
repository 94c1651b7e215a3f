//! [`OtelMiddleware`]: the client layer's span, metric and injection for `reqwest_middleware` clients. The
//! exchange finishes when the response headers arrive (reqwest owns the body).

use std::sync::Arc;

use opentelemetry::context::FutureExt as _;
use reqwest_middleware::reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};

use super::exchange::ClientExchange;
use super::layer::HttpClientLayer;
use super::shared::ClientShared;
use crate::future::Exchange as _;

/// reqwest-middleware support.
///
/// ```no_run
/// let client = reqwest_middleware::ClientBuilder::new(reqwest_middleware::reqwest::Client::new())
///     .with(otelwright_http::OtelMiddleware::new())
///     .build();
/// ```
#[derive(Clone)]
pub struct OtelMiddleware {
    shared: Arc<ClientShared>,
}

impl std::fmt::Debug for OtelMiddleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelMiddleware").finish_non_exhaustive()
    }
}

impl OtelMiddleware {
    /// Spans and metrics through the global providers.
    pub fn new() -> Self {
        OtelMiddleware::from(HttpClientLayer::new())
    }
}

impl Default for OtelMiddleware {
    fn default() -> Self {
        OtelMiddleware::new()
    }
}

impl From<HttpClientLayer> for OtelMiddleware {
    /// Uses a configured layer's settings (`HttpClientLayer::builder()...build().into()`).
    fn from(layer: HttpClientLayer) -> Self {
        OtelMiddleware { shared: layer.shared }
    }
}

#[async_trait::async_trait]
impl Middleware for OtelMiddleware {
    async fn handle(&self, mut req: Request, extensions: &mut http::Extensions, next: Next<'_>) -> Result<Response> {
        let uri: http::Uri = req.url().as_str().parse().unwrap_or_default();
        let (method, version) = (req.method().clone(), req.version());
        let mut exchange = ClientExchange::start(&self.shared, &method, &uri, version, req.headers_mut());
        let result = next.run(req, extensions).with_context(exchange.cx.clone()).await;
        match &result {
            Ok(response) => exchange.on_status(response.status().as_u16(), response.headers()),
            Err(e) => exchange.on_failure(if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connect"
            } else {
                "request"
            }),
        }
        result
    }
}
