//! The pipeline built with `otelwright::build` (nothing global), as one test binary (one build and link instead of
//! five): the encoder's conformance with the SDK's, export behaviour, meter hooks, shutdown and span events, one
//! module each. The `#[measured]` tests stay in their own binaries: each sets the process-wide meter provider.

#[path = "../encode_support/mod.rs"]
mod encode_support;

mod encode_conformance;
mod export;
mod meter_hook;
mod shutdown;
mod span_events;
