//! [`HttpClientService`]: starts the exchange (span, injection) and calls the client with its context current.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::ClientResponseFuture;
use super::exchange::ClientExchange;
use super::shared::ClientShared;
use crate::body::InstrumentedBody;

/// The service [`super::HttpClientLayer`] wraps around a client.
#[derive(Clone)]
pub struct HttpClientService<S> {
    inner: S,
    shared: Arc<ClientShared>,
}

impl<S> std::fmt::Debug for HttpClientService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClientService").finish_non_exhaustive()
    }
}

impl<S> HttpClientService<S> {
    pub(crate) fn new(inner: S, shared: Arc<ClientShared>) -> Self {
        HttpClientService { inner, shared }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpClientService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<InstrumentedBody<ResBody, Box<ClientExchange>>>;
    type Error = S::Error;
    type Future = ClientResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let (method, uri, version) = (req.method().clone(), req.uri().clone(), req.version());
        let exchange = ClientExchange::start(&self.shared, &method, &uri, version, req.headers_mut());
        let inner = {
            let _attached = exchange.cx.clone().attach();
            self.inner.call(req)
        };
        ClientResponseFuture::new(inner, Box::new(exchange))
    }
}
