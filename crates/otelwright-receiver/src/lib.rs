//! An OTLP receiver for tests and dev mode.
//!
//! [`Receiver`] listens for OTLP/gRPC (with or without gzip) and OTLP/HTTP
//! (`POST /v1/traces`, `/v1/metrics`, `/v1/logs` with protobuf or JSON
//! bodies, optionally gzip-compressed), keeps every span, log record and
//! metric it receives in memory, and lets tests wait — with a deadline — until
//! what they expect has arrived.
//!
//! ```no_run
//! use std::time::Duration;
//! use otelwright_receiver::Receiver;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let receiver = Receiver::start().await?;
//! // Point an exporter at receiver.grpc_endpoint() or receiver.http_endpoint() ...
//! let spans = receiver
//!     .wait_for_spans(|s| s.iter().any(|s| s.name() == "checkout"), Duration::from_secs(5))
//!     .await?;
//! assert_eq!(spans[0].resource_str("service.name").as_deref(), Some("shop"));
//! receiver.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Items are stored with their resource, instrumentation scope and the
//! [`Transport`] that carried them; [`Receiver::requests`] lists every export
//! request with its signal, transport, item count and compression, so a test
//! can check which protocol really carried the data.
//!
//! [`Receiver::start_tls`] serves both protocols over TLS instead (optionally
//! requiring client certificates); [`TestPki`] makes a throwaway CA with
//! server and client certificates for such tests. See the [`tls`] module.
//!
//! The proto types are opentelemetry-proto's, re-exported as [`proto`].

mod export;
mod fault;
mod grpc;
mod http;
mod received;
mod receiver;
mod store;
pub mod tls;
mod types;
mod values;

/// The opentelemetry-proto crate (generated OTLP types, clients and servers).
pub use opentelemetry_proto as proto;

pub use fault::Fault;
pub use http::decode_status;
pub use received::{HistogramPoint, MetricKind, NumberPoint, ReceivedLog, ReceivedMetric, ReceivedSpan};
pub use receiver::{Receiver, ReceiverConfig};
pub use tls::{ReceiverTls, TestPki, TestPkiFiles};
pub use types::{Drained, Protocol, RawRequest, RequestInfo, Signal, Transport, WaitTimeout};
pub use values::{any_value_str, any_value_to_string, find_attr, hex};
