//! The errors `init` can return: only what cannot work. Bad environment values are warnings, never errors.

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An endpoint set in code is not an `http(s)` URL.
    #[error("the OTLP {signal} endpoint {endpoint:?} cannot be used: {reason}")]
    InvalidEndpoint {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The OTLP exporter rejected its settings.
    #[error("the OTLP {signal} exporter could not be built: {reason}")]
    Exporter {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
        /// The exporter's message.
        reason: String,
    },
    /// A TLS file set in code (or one that changed after the configuration was read) cannot be used.
    #[error("the OTLP {signal} exporter's TLS file {path:?} cannot be used: {reason}")]
    Tls {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The small runtime that drives export, or an export thread, could not start.
    #[error("could not start the export runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// Another global `tracing` subscriber is installed already.
    #[error(
        "a global tracing subscriber is already installed: call otelwright::init once, before any other \
         subscriber, or use otelwright::build and install its dispatch yourself"
    )]
    SubscriberAlreadySet,
}
