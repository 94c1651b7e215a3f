//! The receiver end to end, as one test binary (one build and link instead of five): the SDK's exporters into it,
//! OTLP/gRPC, OTLP/HTTP, decoding properties and TLS, one module each.

#[path = "../common/mod.rs"]
mod common;

mod exporters;
mod grpc;
mod http;
mod proptest_decode;
mod tls;
