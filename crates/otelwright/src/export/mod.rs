//! otelwright's own span and log export for OTLP over gRPC and HTTP/protobuf, in place of the SDK's batch
//! processors and opentelemetry-otlp's exporters (HTTP/JSON and the console keep those; metrics keep the SDK's
//! periodic reader).
//!
//! - [`span_processor`] and [`log_processor`]: the SDK-facing processors. A span is moved into a bounded queue; a
//!   log record is encoded where it is emitted (the SDK lends it, so the stock processor clones and boxes it).
//! - [`batch`]: the queue and its worker thread, woken once per batch (or by the schedule delay, a flush or
//!   shutdown), which encodes a batch into a reused buffer and starts up to `max_concurrent_exports` requests.
//! - [`transport`]: the bytes over tonic (a pass-through codec) or reqwest, with the OTLP retry rules of [`retry`],
//!   on the `otelwright-export` runtime.
//!
//! The encoders are reached only through the two names below: `encode_stock` builds opentelemetry-proto's prost
//! structs (what opentelemetry-otlp does); a hand-written encoder with the same signatures replaces it here.

mod batch;
mod encode_stock;
pub(crate) mod log_processor;
mod retry;
pub(crate) mod span_processor;
pub(crate) mod transport;

/// The encoder seam: swap this one line for the hand-written encoder.
pub(crate) use encode_stock::{EncodedLogRecord, LogEncoder, TraceEncoder};

/// Attribute limits an encoder applies while encoding (OTEL_SPAN_* / OTEL_LOGRECORD_* / OTEL_ATTRIBUTE_*).
///
/// Spec `common/README.md#attribute-limits`: past `count`, attributes are discarded (the first ones are kept) and
/// counted in `dropped_attributes_count`; a string (or byte array) value longer than `value_length` characters is
/// truncated to it, element by element in arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AttributeLimits {
    /// Longest attribute value in characters; `None`: no limit.
    pub(crate) value_length: Option<usize>,
    /// Attributes kept per record.
    pub(crate) count: usize,
}
