//! The response future both layers share: it polls the inner future with the exchange's context current. When the
//! response is ready, the exchange notes it (the server adds `X-Request-ID`/`X-Response-Time`) and is handed to the
//! response body, which finishes it after the last frame. Dropped early (the peer or the caller went away), the
//! future drops the exchange, which then finishes as cancelled.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;

use crate::body::{BodyObserver, InstrumentedBody};

/// One request's observation, as the response future drives it (implemented by the server and client exchanges).
pub trait Exchange: BodyObserver {
    /// The response headers are ready.
    fn on_response<B>(&mut self, response: &mut Response<B>);
    /// The inner service failed before producing a response; `error_type` is low-cardinality (a type name).
    fn on_failure(&mut self, error_type: &'static str);
}

impl<X: Exchange> Exchange for Box<X> {
    fn on_response<B>(&mut self, response: &mut Response<B>) {
        (**self).on_response(response);
    }

    fn on_failure(&mut self, error_type: &'static str) {
        (**self).on_failure(error_type);
    }
}

pin_project! {
    /// The response future of the server and client services.
    pub struct ResponseFuture<F, X> {
        #[pin]
        inner: F,
        exchange: Option<X>,
    }
}

impl<F, X> ResponseFuture<F, X> {
    pub(crate) fn new(inner: F, exchange: X) -> Self {
        ResponseFuture { inner, exchange: Some(exchange) }
    }
}

impl<F, B, E, X> Future for ResponseFuture<F, X>
where
    F: Future<Output = Result<Response<B>, E>>,
    X: Exchange,
{
    type Output = Result<Response<InstrumentedBody<B, X>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _attached = this.exchange.as_ref().map(|x| x.context().clone().attach());
            ready!(this.inner.poll(cx))
        };
        let mut exchange = this.exchange.take();
        Poll::Ready(match result {
            Ok(mut response) => {
                if let Some(x) = exchange.as_mut() {
                    x.on_response(&mut response);
                }
                Ok(response.map(|body| InstrumentedBody::new(body, exchange)))
            }
            Err(error) => {
                if let Some(x) = exchange.as_mut() {
                    x.on_failure(std::any::type_name_of_val(&error));
                }
                Err(error)
            }
        })
    }
}
