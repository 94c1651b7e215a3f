//! Tower layers that make HTTP and gRPC traffic observable by the OpenTelemetry semantic conventions.
//!
//! - [`HttpServerLayer`]: SERVER spans and `http.server.*` metrics for axum or any tower HTTP service, gRPC
//!   recognised by content type (`rpc.server.call.duration`), strict W3C propagation, `X-Request-ID`,
//!   `X-Response-Time`, and a `slow request` warning.
//! - [`HttpClientLayer`]: CLIENT spans and `http.client.request.duration` (or `rpc.client.call.duration`) for
//!   tower HTTP clients (hyper-util, tonic channels), with trace context injected into the outgoing headers; with
//!   the `reqwest` feature, [`OtelMiddleware`] does the same for reqwest-middleware.
//! - [`ws`] (feature `axum-ws`): axum WebSockets observed from upgrade to close — a span per connection and
//!   `websocket.server.*` metrics — by swapping axum's `WebSocketUpgrade` for [`ws::WebSocketUpgrade`].
//! - [`propagation`]: the strict W3C Trace Context Level 2 and Baggage front end.
//! - [`DispatchLayer`]: handles each request with a given `tracing` subscriber, for several services with their
//!   own pipelines in one process.
//!
//! Spans go to the global tracer provider and metrics to the global meter provider unless the builders are given
//! others (`meter_provider`, `tracer_provider`); `otelwright::init` installs both. Nothing here reads the environment:
//! every setting comes through the builders.

mod body;
pub mod client;
mod conventions;
pub mod dispatch;
mod future;
mod instrumentation;
pub mod metrics;
pub mod propagation;
mod request_id;
mod route;
pub mod server;
#[cfg(feature = "axum-ws")]
pub mod ws;

pub use body::{BodyObserver, InstrumentedBody};
#[cfg(feature = "reqwest")]
pub use client::OtelMiddleware;
pub use client::{HttpClientLayer, HttpClientLayerBuilder};
pub use dispatch::DispatchLayer;
pub use future::{Exchange, ResponseFuture};
pub use request_id::RequestId;
pub use route::{MatchedPathRoute, RouteInput, RouteSource};
pub use server::{HttpServerLayer, HttpServerLayerBuilder};
