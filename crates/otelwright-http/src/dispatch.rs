//! [`DispatchLayer`]: runs everything a service does for a request — the call, every poll of the response future
//! and of the response body, and dropping the body — with that service's `tracing` subscriber as the default.
//!
//! Why: a binary calls `otelwright::init`, which installs one subscriber for the whole process. When two services
//! share a process (`otelwright demo`, the end-to-end tests), each has its own pipeline from `otelwright::build`
//! (its own `service.name`), and neither may be global. Servers spawn a task per connection, and a spawned task
//! does not inherit `WithSubscriber`, so the subscriber is set around each request instead. Put it outside
//! [`HttpServerLayer`](crate::HttpServerLayer) so the server span is made and ended with that subscriber. With a
//! global subscriber the layer changes nothing.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;
use tracing::Dispatch;
use tracing::dispatcher::with_default;

/// Makes `dispatch` the default subscriber while a request is handled. Put it outermost.
#[derive(Clone, Debug)]
pub struct DispatchLayer {
    dispatch: Dispatch,
}

impl DispatchLayer {
    /// Handles requests with `dispatch` (e.g. `telemetry.dispatch().clone()`).
    pub fn new(dispatch: Dispatch) -> Self {
        DispatchLayer { dispatch }
    }
}

impl<S> Layer<S> for DispatchLayer {
    type Service = InDispatch<S>;

    fn layer(&self, inner: S) -> InDispatch<S> {
        InDispatch { inner, dispatch: self.dispatch.clone() }
    }
}

/// The service [`DispatchLayer`] wraps around an inner service.
#[derive(Clone, Debug)]
pub struct InDispatch<S> {
    inner: S,
    dispatch: Dispatch,
}

impl<S, B, RB> Service<Request<B>> for InDispatch<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
{
    type Response = Response<DispatchBody<RB>>;
    type Error = S::Error;
    type Future = DispatchFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        with_default(&self.dispatch, || self.inner.poll_ready(cx))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let inner = with_default(&self.dispatch, || self.inner.call(request));
        DispatchFuture { inner, dispatch: self.dispatch.clone() }
    }
}

pin_project! {
    /// The response future of [`InDispatch`].
    pub struct DispatchFuture<F> {
        #[pin]
        inner: F,
        dispatch: Dispatch,
    }
}

impl<F, RB, E> Future for DispatchFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = Result<Response<DispatchBody<RB>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(with_default(this.dispatch, || this.inner.poll(cx)));
        let dispatch = this.dispatch.clone();
        Poll::Ready(result.map(|response| response.map(|body| DispatchBody { inner: Some(Box::pin(body)), dispatch })))
    }
}

/// The response body of [`InDispatch`]: polled and dropped with the service's subscriber, because the server
/// layer ends its span and logs slow requests when the body is done.
pub struct DispatchBody<B> {
    inner: Option<Pin<Box<B>>>,
    dispatch: Dispatch,
}

impl<B> std::fmt::Debug for DispatchBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatchBody").finish_non_exhaustive()
    }
}

impl<B: Body> Body for DispatchBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        match &mut this.inner {
            Some(body) => with_default(&this.dispatch, || body.as_mut().poll_frame(cx)),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl<B> Drop for DispatchBody<B> {
    fn drop(&mut self) {
        if let Some(body) = self.inner.take() {
            with_default(&self.dispatch, || drop(body));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use bytes::Bytes;
    use http_body_util::BodyExt as _;
    use tower::{ServiceExt as _, service_fn};
    use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt as _};

    use super::*;

    /// Records the message of every event its subscriber sees.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Seen {
        fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
            let mut message = String::new();
            event.record(&mut |field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
                if field.name() == "message" {
                    message = format!("{value:?}");
                }
            });
            self.0.lock().unwrap().push(message);
        }
    }

    /// A body that logs when it is polled and when it is dropped.
    struct Logging(Option<Bytes>);

    impl Body for Logging {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            tracing::info!("body polled");
            Poll::Ready(self.get_mut().0.take().map(|b| Ok(Frame::data(b))))
        }
    }

    impl Drop for Logging {
        fn drop(&mut self) {
            tracing::info!("body dropped");
        }
    }

    #[tokio::test]
    async fn call_future_body_and_drop_run_with_the_given_subscriber() {
        let seen = Seen::default();
        let dispatch = Dispatch::new(tracing_subscriber::registry().with(seen.clone()));
        let service = DispatchLayer::new(dispatch).layer(service_fn(|_: Request<()>| {
            tracing::info!("called");
            async {
                tracing::info!("future polled");
                Ok::<_, std::convert::Infallible>(Response::new(Logging(Some(Bytes::from_static(b"ok")))))
            }
        }));
        // No global subscriber: what `seen` records went through the layer's dispatch.
        let response = service.oneshot(Request::new(())).await.unwrap();
        assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "ok");
        let seen = seen.0.lock().unwrap().clone();
        assert_eq!(seen.first().map(String::as_str), Some("called"));
        for message in ["future polled", "body polled"] {
            assert!(seen.iter().any(|m| m == message), "{message}: {seen:?}");
        }
        assert_eq!(seen.last().map(String::as_str), Some("body dropped"), "{seen:?}");
    }
}
