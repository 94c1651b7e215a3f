//! Sending one encoded export request: over gRPC or HTTP/protobuf, retried by the OTLP rules within the export
//! timeout, then its partial-success answer read and logged. Runs on the `otelwright-export` runtime.

mod grpc;
mod http;

use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use super::retry::{self, Policy};
use crate::config::{Protocol, ResolvedOtlp, Signal};

/// The User-Agent of every export request. Spec `protocol/exporter.md`, "User Agent": "OpenTelemetry protocol
/// exporters SHOULD emit a User-Agent header to at a minimum identify the exporter, the language of its
/// implementation, and the version of the exporter."
pub(crate) const USER_AGENT: &str = concat!("OTel-OTLP-Exporter-Rust/", env!("CARGO_PKG_VERSION"), " otelwright");

/// The TLS settings a transport is built with: the PEM files of an `https` endpoint, `None` for `http`.
#[cfg(feature = "tls")]
pub(crate) type Tls = Option<crate::tls::Pems>;
/// Without the `tls` feature there are none (an `https` endpoint fails to connect, as before).
#[cfg(not(feature = "tls"))]
pub(crate) type Tls = ();

#[derive(Debug)]
enum Kind {
    Grpc(grpc::Grpc),
    Http(http::Http),
}

/// Where one signal's requests go, and how.
#[derive(Debug)]
pub(crate) struct Transport {
    kind: Kind,
    signal: Signal,
    /// The export timeout: of one attempt (set on the channel or client) and of all retries together.
    timeout: Duration,
    policy: Policy,
}

impl Transport {
    /// A transport for `o` (gRPC or HTTP/protobuf). gRPC must be built inside the export runtime.
    pub(crate) fn new(o: &ResolvedOtlp, signal: Signal, tls: Tls) -> Result<Transport, String> {
        let kind = match o.protocol {
            Protocol::Grpc => {
                #[cfg(feature = "tls")]
                let grpc = grpc::Grpc::new(o, signal, tls.map(|pems| crate::tls::grpc(pems, crate::tls::system_roots)));
                #[cfg(not(feature = "tls"))]
                let grpc = {
                    let () = tls;
                    grpc::Grpc::new(o, signal)
                };
                Kind::Grpc(grpc?)
            }
            Protocol::HttpProtobuf => {
                #[cfg(feature = "tls")]
                let client = crate::tls::http_async_client(tls, crate::tls::system_roots, o.timeout)?;
                #[cfg(not(feature = "tls"))]
                let client = {
                    let () = tls;
                    reqwest::Client::builder()
                        .timeout(o.timeout)
                        .user_agent(USER_AGENT)
                        .build()
                        .map_err(|e| format!("the HTTP client could not be built: {e}"))?
                };
                Kind::Http(http::Http::new(o, client)?)
            }
            Protocol::HttpJson => return Err("HTTP/JSON is exported by opentelemetry-otlp".to_owned()),
        };
        Ok(Transport { kind, signal, timeout: o.timeout, policy: Policy::default() })
    }

    /// The request body for an encoded export request (copied, or compressed for HTTP with gzip: tonic
    /// compresses gRPC itself). An error means it is not sent.
    pub(crate) fn body(&self, encoded: &[u8]) -> Result<Bytes, String> {
        match &self.kind {
            Kind::Grpc(_) => Ok(Bytes::copy_from_slice(encoded)),
            Kind::Http(h) => h.body(encoded),
        }
    }

    /// Sends `body`, retrying by the OTLP rules; a partial success is logged and counts as success (spec: "the
    /// client MUST NOT retry the request when it receives a partial success response").
    pub(crate) async fn export(&self, body: Bytes) -> Result<(), String> {
        let response = match &self.kind {
            Kind::Grpc(g) => {
                retry::with_backoff(self.policy, self.timeout, retry::classify_grpc, || g.send(body.clone()))
                    .await
                    .map_err(|status| {
                        // The server's message may echo credentials: only the code, plus the cause of a local error.
                        let mut message = format!("gRPC export failed with code {:?}", status.code());
                        if let Some(source) = std::error::Error::source(&status) {
                            message.push_str(": ");
                            message.push_str(&error_chain(source));
                        }
                        message
                    })?
            }
            Kind::Http(h) => retry::with_backoff(
                self.policy,
                self.timeout,
                |e: &http::HttpError| retry::classify_http(e.status, e.retry_after.as_deref()),
                || h.send(body.clone()),
            )
            .await
            .map_err(|e| e.message)?,
        };
        log_partial_success(self.signal, &response);
        Ok(())
    }
}

/// Reads `partial_success` from an `Export*ServiceResponse` (an undecodable answer is accepted: the data arrived).
fn partial_success(signal: Signal, response: &[u8]) -> Option<(i64, String)> {
    match signal {
        Signal::Traces => ExportTraceServiceResponse::decode(response)
            .ok()?
            .partial_success
            .map(|p| (p.rejected_spans, p.error_message)),
        Signal::Logs => ExportLogsServiceResponse::decode(response)
            .ok()?
            .partial_success
            .map(|p| (p.rejected_log_records, p.error_message)),
        Signal::Metrics => None,
    }
}

/// specification.md, "Partial Success": the server "MUST set rejected_<signal> to the number of items it
/// rejected" and may explain in `error_message`, a warning when nothing was rejected. "The client MUST NOT retry
/// the request when it receives a partial success response where the partial_success is populated."
fn log_partial_success(signal: Signal, response: &[u8]) {
    if let Some((rejected, message)) = partial_success(signal, response)
        && (rejected > 0 || !message.is_empty())
    {
        tracing::warn!(
            otel.signal = signal.as_str(),
            rejected,
            error_message = %message,
            "the collector accepted the export only partially (partial success; not retried)"
        );
    }
}

/// An error and its sources, `a: b: c`.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;

    use super::*;

    #[test]
    fn partial_success_is_read_per_signal() {
        let trace = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess { rejected_spans: 3, error_message: "too big".into() }),
        }
        .encode_to_vec();
        assert_eq!(partial_success(Signal::Traces, &trace), Some((3, "too big".to_owned())));
        assert_eq!(partial_success(Signal::Traces, &[]), None, "an empty answer is full success");
        assert_eq!(partial_success(Signal::Logs, &[0xff, 0xff]), None, "garbage is ignored");
    }
}
