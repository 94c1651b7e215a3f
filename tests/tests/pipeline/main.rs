//! otelwright pipelines built with `otelwright::build` (nothing global) into the receiver over real sockets, as
//! one test binary: every protocol and signal, TLS and mutual TLS, and what `Telemetry` hands out. One module each.

mod protocols;
mod telemetry_wiring;
mod tls;
