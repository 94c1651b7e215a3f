//! [`HttpServerService`]: starts the exchange, calls the inner service with the request's context current, and
//! returns a future that finishes the exchange's headers and wraps the body.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::ResponseFuture;
use super::exchange::ServerExchange;
use super::shared::Shared;
use crate::body::InstrumentedBody;

/// The service [`super::HttpServerLayer`] wraps around an inner service.
#[derive(Clone)]
pub struct HttpServerService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for HttpServerService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServerService").finish_non_exhaustive()
    }
}

impl<S> HttpServerService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        HttpServerService { inner, shared }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpServerService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<InstrumentedBody<ResBody, Box<ServerExchange>>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let exchange = ServerExchange::start(&self.shared, &mut req);
        let inner = {
            let _attached = exchange.cx.clone().attach();
            self.inner.call(req)
        };
        ResponseFuture::new(inner, exchange)
    }
}
