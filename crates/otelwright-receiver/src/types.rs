//! Small shared types: which signal and which transport carried a request (the workspace's
//! [`Signal`] and [`Protocol`], from `otelwright-core`), the per-request record, and the wait error.

use std::time::Duration;

pub use otelwright_core::{Protocol, Signal};

/// The protocol that carried an export request: the same enum as [`Protocol`] (what an exporter sends with is
/// what a receiver accepted), kept under this name for the receiver's existing API.
pub type Transport = Protocol;

/// One accepted export request: what it carried and how.
///
/// Recorded for every request that decoded successfully (including empty
/// ones); rejected requests (415, 400, ...) are not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestInfo {
    /// Which signal the request exported.
    pub signal: Signal,
    /// Which protocol carried it.
    pub transport: Transport,
    /// How many items it carried: spans, log records, or metrics (not data
    /// points).
    pub items: usize,
    /// Whether the request body was gzip-compressed (`Content-Encoding: gzip`
    /// over HTTP, `grpc-encoding: gzip` over gRPC).
    pub gzip: bool,
}

/// One accepted export request's payload as it arrived, after decompression: the protobuf message (gRPC without
/// its 5-byte frame header, HTTP/protobuf) or the JSON text (HTTP/JSON). Kept only after
/// [`Receiver::keep_bodies`](crate::Receiver::keep_bodies), so that another OTLP implementation can decode the
/// same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// Which signal the request exported.
    pub signal: Signal,
    /// Which protocol carried it (and so how `body` is encoded).
    pub transport: Transport,
    /// The payload.
    pub body: bytes::Bytes,
}

/// A wait's deadline passed before its predicate held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {timeout:?} waiting for {what} to match the predicate ({seen} {what} received)")]
#[non_exhaustive]
pub struct WaitTimeout {
    /// What was waited for: `spans`, `log records`, `metrics` or `requests`.
    pub what: &'static str,
    /// How long the wait lasted.
    pub timeout: Duration,
    /// How many of them were in the store at the deadline.
    pub seen: usize,
}

/// Everything a receiver held when [`Receiver::drain`](crate::Receiver::drain) took it.
#[derive(Debug, Clone, Default)]
pub struct Drained {
    /// One entry per accepted export request, in arrival order.
    pub requests: Vec<RequestInfo>,
    /// Spans, in arrival order.
    pub spans: Vec<crate::ReceivedSpan>,
    /// Log records, in arrival order.
    pub logs: Vec<crate::ReceivedLog>,
    /// Metrics, in arrival order (each export of a metric is a separate item).
    pub metrics: Vec<crate::ReceivedMetric>,
}
