//! The demo's two services as a library, so the example binaries, `otelwright demo` and the end-to-end tests
//! run the same code and no crate depends on an example: [`health_agent`] (an axum API with every otelwright
//! signal on) and [`recommender`] (a tonic gRPC service it calls). Not published: it is a workload, not an API.
//!
//! Each service takes the [`otelwright::Telemetry`] to use. A binary passes what `otelwright::init` returned;
//! a host running both in one process passes each its own `otelwright::build` pipeline, and every request is
//! handled with that pipeline's subscriber ([`otelwright::http::DispatchLayer`]).

pub mod health_agent;
pub mod recommender;
