//! otelwright's own span and log export for OTLP over gRPC and HTTP/protobuf, in place of the SDK's batch
//! processors and opentelemetry-otlp's exporters (HTTP/JSON and the console keep those; metrics keep the SDK's
//! periodic reader).
//!
//! - [`span_processor`] and [`log_processor`]: the SDK-facing processors. A span is moved into a bounded queue; a
//!   log record is encoded where it is emitted (the SDK lends it, so the stock processor clones and boxes it).
//! - [`batch`]: the queue and its worker thread, woken once per batch (or by the schedule delay, a flush or
//!   shutdown), which encodes a batch into a reused buffer and starts up to `max_concurrent_exports` requests.
//! - [`encode`]: OTLP protobuf written straight from `&SpanData` and `&SdkLogRecord`, with no intermediate prost
//!   structs; `tests/pipeline/encode_conformance.rs` checks it field for field against opentelemetry-otlp's own conversion.
//! - [`transport`]: the bytes over tonic (a pass-through codec) or reqwest, with the OTLP retry rules of [`retry`],
//!   on the `otelwright-export` runtime.

mod batch;
pub(crate) mod encode;
pub(crate) mod log_processor;
mod retry;
pub(crate) mod span_processor;
pub(crate) mod transport;

pub(crate) use encode::{AttributeLimits, EncodedLogRecord, LogEncoder, TraceEncoder};
