//! [`WebSocketUpgrade`]: axum's extractor, plus what the connection's observation needs from the upgrade request
//! (left in its extensions by the server layer, or taken from the global providers when there is none).

use std::future::Future;
use std::sync::{Arc, OnceLock};

use axum::extract::FromRequestParts;
use axum::extract::ws::{self as axum_ws, DefaultOnFailedUpgrade, OnFailedUpgrade};
use axum::response::Response;
use http::HeaderValue;
use http::request::Parts;
use opentelemetry::context::FutureExt as _;

use super::Upgrade;
use super::socket::WebSocket;
use crate::server::HttpServerLayer;

/// axum's [`WebSocketUpgrade`](axum_ws::WebSocketUpgrade) extractor, whose [`on_upgrade`](Self::on_upgrade) hands
/// the callback an observed [`WebSocket`]. The same methods, with the same meaning.
pub struct WebSocketUpgrade<F = DefaultOnFailedUpgrade> {
    inner: axum_ws::WebSocketUpgrade<F>,
    observe: Option<Upgrade>,
}

impl<F> std::fmt::Debug for WebSocketUpgrade<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("inner", &self.inner)
            .field("observed", &self.observe.is_some())
            .finish()
    }
}

/// The layer used when no [`HttpServerLayer`] sits in front of the route: the global providers and the defaults.
fn fallback() -> &'static HttpServerLayer {
    static LAYER: OnceLock<HttpServerLayer> = OnceLock::new();
    LAYER.get_or_init(HttpServerLayer::new)
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade<DefaultOnFailedUpgrade> {
    type Rejection = axum_ws::rejection::WebSocketUpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let inner = axum_ws::WebSocketUpgrade::from_request_parts(parts, state).await?;
        let observe = match parts.extensions.get::<Upgrade>() {
            Some(upgrade) => Some(upgrade.clone()),
            None => {
                let shared = fallback().shared.clone();
                let traced = shared.tracer.is_some();
                let measured = shared.ws_instruments.is_some();
                let route = parts.extensions.get::<axum::extract::MatchedPath>().map(|p| Arc::from(p.as_str()));
                Some(Upgrade { shared, parent: opentelemetry::Context::current(), route, traced, measured })
            }
        };
        Ok(WebSocketUpgrade { inner, observe })
    }
}

impl<F> WebSocketUpgrade<F> {
    /// axum's [`read_buffer_size`](axum_ws::WebSocketUpgrade::read_buffer_size).
    pub fn read_buffer_size(self, size: usize) -> Self {
        WebSocketUpgrade { inner: self.inner.read_buffer_size(size), observe: self.observe }
    }

    /// axum's [`write_buffer_size`](axum_ws::WebSocketUpgrade::write_buffer_size).
    pub fn write_buffer_size(self, size: usize) -> Self {
        WebSocketUpgrade { inner: self.inner.write_buffer_size(size), observe: self.observe }
    }

    /// axum's [`max_write_buffer_size`](axum_ws::WebSocketUpgrade::max_write_buffer_size).
    pub fn max_write_buffer_size(self, max: usize) -> Self {
        WebSocketUpgrade { inner: self.inner.max_write_buffer_size(max), observe: self.observe }
    }

    /// axum's [`max_message_size`](axum_ws::WebSocketUpgrade::max_message_size).
    pub fn max_message_size(self, max: usize) -> Self {
        WebSocketUpgrade { inner: self.inner.max_message_size(max), observe: self.observe }
    }

    /// axum's [`max_frame_size`](axum_ws::WebSocketUpgrade::max_frame_size).
    pub fn max_frame_size(self, max: usize) -> Self {
        WebSocketUpgrade { inner: self.inner.max_frame_size(max), observe: self.observe }
    }

    /// axum's [`accept_unmasked_frames`](axum_ws::WebSocketUpgrade::accept_unmasked_frames).
    pub fn accept_unmasked_frames(self, accept: bool) -> Self {
        WebSocketUpgrade { inner: self.inner.accept_unmasked_frames(accept), observe: self.observe }
    }

    /// axum's [`protocols`](axum_ws::WebSocketUpgrade::protocols).
    pub fn protocols<I>(self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<std::borrow::Cow<'static, str>>,
    {
        WebSocketUpgrade { inner: self.inner.protocols(protocols), observe: self.observe }
    }

    /// axum's [`requested_protocols`](axum_ws::WebSocketUpgrade::requested_protocols).
    pub fn requested_protocols(&self) -> impl Iterator<Item = &HeaderValue> {
        self.inner.requested_protocols()
    }

    /// axum's [`set_selected_protocol`](axum_ws::WebSocketUpgrade::set_selected_protocol).
    pub fn set_selected_protocol(&mut self, protocol: HeaderValue) {
        self.inner.set_selected_protocol(protocol);
    }

    /// axum's [`selected_protocol`](axum_ws::WebSocketUpgrade::selected_protocol).
    pub fn selected_protocol(&self) -> Option<&HeaderValue> {
        self.inner.selected_protocol()
    }

    /// axum's [`on_failed_upgrade`](axum_ws::WebSocketUpgrade::on_failed_upgrade). A failed upgrade opens no
    /// connection and records nothing beyond the request.
    pub fn on_failed_upgrade<C: OnFailedUpgrade>(self, callback: C) -> WebSocketUpgrade<C> {
        WebSocketUpgrade { inner: self.inner.on_failed_upgrade(callback), observe: self.observe }
    }

    /// axum's [`on_upgrade`](axum_ws::WebSocketUpgrade::on_upgrade): `callback` gets the observed socket, and
    /// runs with the connection span's context current.
    #[must_use = "to set up the WebSocket connection, this response must be returned"]
    pub fn on_upgrade<C, Fut>(self, callback: C) -> Response
    where
        C: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
        F: OnFailedUpgrade,
    {
        let observe = self.observe;
        self.inner.on_upgrade(move |socket| {
            let socket = WebSocket::new(socket, observe);
            let cx = socket.context();
            callback(socket).with_context(cx)
        })
    }
}
