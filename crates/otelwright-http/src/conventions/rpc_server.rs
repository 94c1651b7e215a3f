//! The gRPC server convention (semconv "RPC" spans and metrics, gRPC): span name `{rpc.method}`, the status from
//! response headers or trailers, only the codes that mean the server failed as errors, and
//! `rpc.server.call.duration`.

use std::borrow::Cow;

use http::{HeaderMap, Request};
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanRef;

use super::rules::{self, add_server_side_addresses, grpc_code_name, grpc_server_error};
use super::{Conventions, Outcome};
use crate::metrics::ServerInstruments;

/// One gRPC server call's convention state.
#[derive(Debug)]
pub(crate) struct RpcServer {
    /// `rpc.method`: `package.Service/Method`.
    method: String,
    /// `grpc-status` from a trailers-only response's headers or from the trailers.
    status: Option<i32>,
}

impl RpcServer {
    pub(super) fn new<B>(req: &Request<B>) -> Self {
        RpcServer { method: super::rpc_method(req.uri()), status: None }
    }

    pub(super) fn method(&self) -> &str {
        &self.method
    }

    /// Semconv `docs/rpc/rpc-spans.md`: the span is named after `rpc.method`; `rpc.system.name` is set at start.
    pub(super) fn span_start<B>(&self, req: &Request<B>) -> (String, Vec<KeyValue>) {
        let mut attrs =
            vec![KeyValue::new("rpc.system.name", "grpc"), KeyValue::new("rpc.method", self.method.clone())];
        add_server_side_addresses(&mut attrs, req);
        (self.method.clone(), attrs)
    }
}

impl Conventions for RpcServer {
    type Instruments = ServerInstruments;

    fn on_headers(&mut self, headers: &HeaderMap) {
        // A trailers-only response carries grpc-status in the headers.
        self.status = rules::grpc_status(headers);
    }

    fn on_trailers(&mut self, trailers: &HeaderMap) {
        if let Some(code) = rules::grpc_status(trailers) {
            self.status = Some(code);
        }
    }

    /// Semconv `docs/rpc/grpc.md`, server side: only `UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`
    /// and `DATA_LOSS` are errors; the others are the client's doing.
    fn error_type(&self, outcome: Outcome) -> Option<Cow<'static, str>> {
        outcome.error_type(|_| self.status.filter(|c| grpc_server_error(*c)).map(|c| Cow::Borrowed(grpc_code_name(c))))
    }

    fn end_attributes(&self, span: &SpanRef<'_>, _outcome: Outcome) {
        if let Some(code) = self.status {
            span.set_attribute(KeyValue::new("rpc.response.status_code", grpc_code_name(code)));
        }
    }

    fn record(&self, i: &ServerInstruments, secs: f64, _outcome: Outcome, error: Option<Cow<'static, str>>) {
        // Only calls that reported a status are measured; a client cancelling mid-call reports none.
        let Some(code) = self.status else { return };
        let mut attrs = vec![
            KeyValue::new("rpc.system.name", "grpc"),
            KeyValue::new("rpc.method", self.method.clone()),
            KeyValue::new("rpc.response.status_code", grpc_code_name(code)),
        ];
        if let Some(e) = error {
            attrs.push(KeyValue::new("error.type", rules::string(e)));
        }
        i.rpc_duration.record(secs, &attrs);
    }
}
