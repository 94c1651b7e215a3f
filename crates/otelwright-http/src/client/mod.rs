//! The client side: [`HttpClientLayer`] for tower clients and, with the `reqwest` feature, [`OtelMiddleware`] for
//! reqwest-middleware. Spans follow the HTTP client conventions (name `{method}`, `url.full` with credentials and
//! sensitive query values redacted, `server.address`/`server.port`, errors from status 400 up) or, for
//! `application/grpc`, the RPC client conventions (every code but `OK` is an error).

mod exchange;
mod layer;
#[cfg(feature = "reqwest")]
mod reqwest;
mod service;
mod shared;

pub use exchange::ClientExchange;
pub use layer::{HttpClientLayer, HttpClientLayerBuilder};
#[cfg(feature = "reqwest")]
pub use reqwest::OtelMiddleware;
pub use service::HttpClientService;

/// The response future of the client layer.
pub type ClientResponseFuture<F> = crate::future::ResponseFuture<F, Box<ClientExchange>>;

/// The response body type of the client layer.
pub type ClientResponseBody<B> = crate::body::InstrumentedBody<B, Box<ClientExchange>>;
