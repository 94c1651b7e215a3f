//! Small shared types: which signal and which transport carried a request,
//! the per-request record, and the wait error.

use std::fmt;
use std::time::Duration;

/// An OTLP signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Spans (`/v1/traces`, `TraceService`).
    Traces,
    /// Metrics (`/v1/metrics`, `MetricsService`).
    Metrics,
    /// Log records (`/v1/logs`, `LogsService`).
    Logs,
}

impl Signal {
    /// Lowercase name: `traces`, `metrics` or `logs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The protocol that carried an export request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP with `Content-Type: application/x-protobuf`.
    HttpProtobuf,
    /// OTLP/HTTP with `Content-Type: application/json`.
    HttpJson,
}

impl Transport {
    /// Name as used by `OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc`,
    /// `http/protobuf` or `http/json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::HttpProtobuf => "http/protobuf",
            Transport::HttpJson => "http/json",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
