//! The gRPC server convention (semconv "RPC" spans and metrics, gRPC): span name `{rpc.method}`, the status from
//! response headers or trailers, only the codes that mean the server failed as errors, and
//! `rpc.server.call.duration`.

use std::borrow::Cow;

use http::{HeaderMap, Request};
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanRef;

use super::rules::{GrpcStatus, add_server_side_addresses, grpc_code_name, grpc_server_error, rpc_attributes};
use super::{Conventions, Outcome};
use crate::metrics::ServerInstruments;

/// One gRPC server call's convention state.
#[derive(Debug)]
pub(crate) struct RpcServer {
    /// `rpc.method`: `package.Service/Method`.
    method: String,
    status: GrpcStatus,
}

impl RpcServer {
    pub(super) fn new<B>(req: &Request<B>) -> Self {
        RpcServer { method: super::rpc_method(req.uri()), status: GrpcStatus::default() }
    }

    pub(super) fn method(&self) -> &str {
        &self.method
    }

    /// Semconv `docs/rpc/rpc-spans.md`: the span is named after `rpc.method`; `rpc.system.name` is set at start.
    pub(super) fn span_start<B>(&self, req: &Request<B>) -> (String, Vec<KeyValue>) {
        let mut attrs = rpc_attributes(&self.method);
        add_server_side_addresses(&mut attrs, req);
        (self.method.clone(), attrs)
    }
}

impl Conventions for RpcServer {
    type Instruments = ServerInstruments;

    fn on_headers(&mut self, headers: &HeaderMap) {
        self.status.on_headers(headers);
    }

    fn on_trailers(&mut self, trailers: &HeaderMap) {
        self.status.on_trailers(trailers);
    }

    /// Semconv `docs/rpc/grpc.md`, server side: only `UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`,
    /// `UNAVAILABLE` and `DATA_LOSS` are errors; the others are the client's doing.
    fn error_type(&self, outcome: Outcome) -> Option<Cow<'static, str>> {
        let failed = self.status.code().filter(|c| grpc_server_error(*c));
        outcome.error_type(|_| failed.map(|c| Cow::Borrowed(grpc_code_name(c))))
    }

    fn end_attributes(&self, span: &SpanRef<'_>, _outcome: Outcome) {
        if let Some(status) = self.status.attribute() {
            span.set_attribute(status);
        }
    }

    fn record(&self, i: &ServerInstruments, secs: f64, _outcome: Outcome, error: Option<Cow<'static, str>>) {
        // Only calls that reported a status are measured; a client cancelling mid-call reports none.
        if self.status.code().is_some() {
            i.rpc_duration.record(secs, &super::rules::rpc_measurement_attributes(&self.method, self.status, error));
        }
    }
}
