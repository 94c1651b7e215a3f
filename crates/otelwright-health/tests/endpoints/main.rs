//! otelwright-health's endpoints over real sockets, as one test binary (one build and link instead of five): the
//! token, database checks, the Prometheus exposition, readiness and the JSON snapshot, one module each.

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod databases;
mod prometheus;
mod ready;
mod snapshot;
