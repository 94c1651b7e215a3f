//! axum WebSockets observed from upgrade to close (feature `axum-ws`). [`WebSocketUpgrade`] and [`WebSocket`] keep
//! axum's API (`on_upgrade`, `recv`, `send`, `Stream`, `Sink`); swapping the import is the whole change:
//!
//! ```no_run
//! use axum::{Router, response::Response, routing::get};
//! // was: use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
//! use otelwright_http::ws::{Message, WebSocket, WebSocketUpgrade};
//!
//! async fn chat(ws: WebSocketUpgrade) -> Response {
//!     ws.on_upgrade(echo)
//! }
//!
//! async fn echo(mut socket: WebSocket) {
//!     while let Some(Ok(msg)) = socket.recv().await {
//!         if let Message::Text(t) = msg
//!             && socket.send(Message::Text(t)).await.is_err()
//!         {
//!             return;
//!         }
//!     }
//! }
//!
//! let app: Router = Router::new()
//!     .route("/chat", get(chat))
//!     .layer(otelwright_http::HttpServerLayer::new());
//! ```
//!
//! Each connection is one INTERNAL span, `websocket {http.route}`, a child of the upgrade request's SERVER span
//! (and so of the client's trace), from the upgrade to the close; the `websocket.server.*` metrics count the open
//! connections, their durations, and the messages and their sizes by direction and type. The names are
//! otelwright's own (the semantic conventions define none for WebSockets): [`ACTIVE_CONNECTIONS`] and the constants
//! beside it. The tracer, meter, route and excluded paths are those of the [`crate::HttpServerLayer`] in front of
//! the route; without one, the global providers (as they are at the first connection) and axum's `MatchedPath`.

mod metrics;
mod socket;
mod upgrade;

use std::sync::Arc;

pub use axum::extract::ws::{
    CloseCode, CloseFrame, DefaultOnFailedUpgrade, Message, OnFailedUpgrade, Utf8Bytes, close_code, rejection,
};
pub(crate) use metrics::WsInstruments;
pub use metrics::{ACTIVE_CONNECTIONS, CONNECTION_DURATION, MESSAGE_DIRECTION, MESSAGE_SIZE, MESSAGE_TYPE, MESSAGES};
pub use socket::WebSocket;
pub use upgrade::WebSocketUpgrade;

use crate::server::shared::Shared;

/// What the server layer leaves in an upgrade request's extensions for the extractor: the layer, the request's
/// context (holding its SERVER span: the connection span's parent) and its route.
#[derive(Clone)]
pub(crate) struct Upgrade {
    pub(crate) shared: Arc<Shared>,
    pub(crate) parent: opentelemetry::Context,
    pub(crate) route: Option<Arc<str>>,
    pub(crate) traced: bool,
    pub(crate) measured: bool,
}

/// Whether a request asks for a WebSocket: `Upgrade: websocket` on HTTP/1.1 (RFC 6455 §4.1: "The request MUST
/// contain an |Upgrade| header field whose value MUST include the "websocket" keyword"), or an extended CONNECT on
/// HTTP/2 (RFC 8441 §4: "the :method pseudo-header field set to CONNECT"). Checked on every request the layer
/// traces, so it only looks at the method and one header.
pub(crate) fn is_upgrade<B>(req: &http::Request<B>) -> bool {
    req.method() == http::Method::CONNECT
        || req.headers().get(http::header::UPGRADE).is_some_and(|v| {
            v.as_bytes().split(|b| *b == b',').any(|p| p.trim_ascii().eq_ignore_ascii_case(b"websocket"))
        })
}

#[cfg(test)]
mod tests {
    use http::{Method, Request};

    use super::is_upgrade;

    #[test]
    fn upgrade_requests_are_recognised_by_method_and_header() {
        let with = |method: Method, upgrade: Option<&str>| {
            let mut b = Request::builder().method(method).uri("/chat");
            if let Some(u) = upgrade {
                b = b.header("upgrade", u);
            }
            is_upgrade(&b.body(()).unwrap())
        };
        assert!(with(Method::GET, Some("websocket")));
        assert!(with(Method::GET, Some("h2c, WebSocket")), "a list, any case");
        assert!(with(Method::CONNECT, None), "HTTP/2 extended CONNECT");
        assert!(!with(Method::GET, Some("h2c")));
        assert!(!with(Method::GET, None));
        assert!(!with(Method::POST, Some("websockets")));
    }
}
