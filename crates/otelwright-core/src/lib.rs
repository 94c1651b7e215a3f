//! otelwright's shared vocabulary, defined once for every crate of the workspace: the telemetry [`Signal`]s, the
//! OTLP [`Protocol`]s, the name of every metric an otelwright crate emits ([`metric`]) and the histogram bucket
//! sets they record with ([`buckets`]).
//!
//! It depends on nothing, so every other crate (the SDK, the layers, the meters, health, the receiver, the CLI)
//! can use it without a cycle. Emitting crates take names from here; crates that read metrics back (health's
//! request window, tests, the CLI's monitor) take the same constants, so a rename is one edit.

pub mod buckets;
pub mod metric;
mod signal;

pub use signal::{ParseProtocolError, ParseSignalError, Protocol, Signal};
