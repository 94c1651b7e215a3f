//! The server layer: every request becomes a SERVER span named `{method} {http.route}` with the HTTP semantic
//! conventions' attributes (or, for `application/grpc`, the RPC conventions with the status taken from headers or
//! trailers), an `http.server.request.duration` (or `rpc.server.call.duration`) measurement and an
//! `http.server.active_requests` count. The parent comes from the strict W3C front end in front of the global
//! propagators. Span and duration end when the response body has been sent; a request the client abandons still
//! ends its span and leaves `active_requests`. Responses get `X-Request-ID` and `X-Response-Time`; requests slower
//! than the threshold log a `slow request` warning with their trace id.
//!
//! ```no_run
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//!
//! let layer = otelwright_http::HttpServerLayer::builder()
//!     .slow_request_threshold(Some(Duration::from_millis(500)))
//!     .exclude_paths(["/health", "/metrics"])
//!     .build();
//! let app: Router = Router::new().route("/users/{id}", get(|| async { "ada" })).layer(layer);
//! ```

mod exchange;
mod layer;
mod service;
pub(crate) mod shared;

pub use exchange::ServerExchange;
pub use layer::{DEFAULT_EXCLUDED, DEFAULT_SLOW_REQUEST, HttpServerLayer, HttpServerLayerBuilder};
pub use service::HttpServerService;

/// The response future of the server layer.
pub type ResponseFuture<F> = crate::future::ResponseFuture<F, Box<ServerExchange>>;

/// The response body type of the server layer.
pub type ResponseBody<B> = crate::body::InstrumentedBody<B, Box<ServerExchange>>;
