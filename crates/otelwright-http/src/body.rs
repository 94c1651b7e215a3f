//! A response body that tells its observer when the last byte (or the trailers) went through, so spans and
//! durations cover streamed bodies, and that finishes the observation on drop when the peer went away early.

use std::pin::Pin;
use std::task::{Context, Poll};

use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// What a body reports to (implemented by the server and client exchanges).
pub trait BodyObserver: Send + 'static {
    /// The OpenTelemetry context to make current while the body is polled.
    fn context(&self) -> &opentelemetry::Context;
    /// Data went through.
    fn on_data(&mut self, bytes: usize);
    /// Trailers arrived (gRPC status travels here).
    fn on_trailers(&mut self, trailers: &HeaderMap);
    /// The body ended, or was dropped (hyper drops a body without polling it again once `is_end_stream` is
    /// true, and drops it early when the peer goes away).
    fn on_end(self);
}

/// Observers are boxed by the layers: the body and the response future then move a pointer, not the state.
impl<O: BodyObserver> BodyObserver for Box<O> {
    fn context(&self) -> &opentelemetry::Context {
        (**self).context()
    }

    fn on_data(&mut self, bytes: usize) {
        (**self).on_data(bytes);
    }

    fn on_trailers(&mut self, trailers: &HeaderMap) {
        (**self).on_trailers(trailers);
    }

    fn on_end(self) {
        (*self).on_end();
    }
}

/// Implements [`BodyObserver`] and `Drop` for an exchange with a `cx: Context`, a `conventions` field that
/// implements `crate::conventions::Conventions`, and a `finish(&mut self)` run exactly once, on drop.
macro_rules! observe_with_conventions {
    ($exchange:ty) => {
        impl Drop for $exchange {
            fn drop(&mut self) {
                self.finish();
            }
        }

        impl $crate::body::BodyObserver for $exchange {
            fn context(&self) -> &opentelemetry::Context {
                &self.cx
            }

            fn on_data(&mut self, bytes: usize) {
                $crate::conventions::Conventions::on_data(&mut self.conventions, bytes);
            }

            fn on_trailers(&mut self, trailers: &http::HeaderMap) {
                $crate::conventions::Conventions::on_trailers(&mut self.conventions, trailers);
            }

            fn on_end(self) {
                // Dropping finishes.
            }
        }
    };
}

pub(crate) use observe_with_conventions;

pin_project! {
    /// A body wrapped by one of this crate's layers.
    pub struct InstrumentedBody<B, O: BodyObserver> {
        #[pin]
        inner: B,
        observer: Option<O>,
    }

    impl<B, O: BodyObserver> PinnedDrop for InstrumentedBody<B, O> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(o) = this.project().observer.take() {
                o.on_end();
            }
        }
    }
}

impl<B, O: BodyObserver> InstrumentedBody<B, O> {
    pub(crate) fn new(inner: B, observer: Option<O>) -> Self {
        InstrumentedBody { inner, observer }
    }
}

impl<B: Body, O: BodyObserver> Body for InstrumentedBody<B, O> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        // A body of known size is already buffered: no user code runs while it is polled, so there is no need to
        // make the request's context current (a streamed body may log, and then its lines carry the trace id).
        let buffered = this.inner.size_hint().exact().is_some();
        let attached = if buffered { None } else { this.observer.as_ref().map(|o| o.context().clone().attach()) };
        let polled = this.inner.as_mut().poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(o) = this.observer.as_mut() {
                    if let Some(data) = frame.data_ref() {
                        o.on_data(bytes::Buf::remaining(data));
                    } else if let Some(trailers) = frame.trailers_ref() {
                        o.on_trailers(trailers);
                    }
                }
                this.inner.is_end_stream()
            }
            // An error mid-stream ends the exchange as it is; the caller sees the error.
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => true,
            Poll::Pending => false,
        };
        drop(attached);
        if ended && let Some(o) = this.observer.take() {
            o.on_end();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
