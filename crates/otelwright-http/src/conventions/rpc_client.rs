//! The gRPC client convention (semconv "RPC" spans and metrics, gRPC): span name `{rpc.method}`, the status from
//! response headers or trailers, every code but `OK` as an error, and `rpc.client.call.duration`.

use std::borrow::Cow;
use std::sync::Arc;

use http::{HeaderMap, Uri};
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanRef;

use super::rules::{self, add_client_side_server, grpc_code_name};
use super::{Conventions, Outcome};
use crate::metrics::ClientInstruments;

/// One gRPC client call's convention state.
#[derive(Debug)]
pub(crate) struct RpcClient {
    /// `rpc.method`: `package.Service/Method`.
    method: String,
    server: Option<(Arc<str>, u16)>,
    /// `grpc-status` from a trailers-only response's headers or from the trailers.
    status: Option<i32>,
}

impl RpcClient {
    pub(super) fn new(uri: &Uri, server: Option<(Arc<str>, u16)>) -> Self {
        RpcClient { method: super::rpc_method(uri), server, status: None }
    }

    /// Semconv `docs/rpc/rpc-spans.md`: the span is named after `rpc.method`; `rpc.system.name` is set at start,
    /// `server.address` comes from the channel target.
    pub(super) fn span_start(&self) -> (String, Vec<KeyValue>) {
        let mut attrs = Vec::with_capacity(8);
        attrs.push(KeyValue::new("rpc.system.name", "grpc"));
        attrs.push(KeyValue::new("rpc.method", self.method.clone()));
        add_client_side_server(&mut attrs, self.server.as_ref());
        (self.method.clone(), attrs)
    }
}

impl Conventions for RpcClient {
    type Instruments = ClientInstruments;

    fn on_headers(&mut self, headers: &HeaderMap) {
        self.status = rules::grpc_status(headers);
    }

    fn on_trailers(&mut self, trailers: &HeaderMap) {
        if let Some(code) = rules::grpc_status(trailers) {
            self.status = Some(code);
        }
    }

    /// Semconv `docs/rpc/grpc.md`, client side: every code but `OK` is an error.
    fn error_type(&self, outcome: Outcome) -> Option<Cow<'static, str>> {
        outcome.error_type(|_| self.status.filter(|c| *c != 0).map(|c| Cow::Borrowed(grpc_code_name(c))))
    }

    fn end_attributes(&self, span: &SpanRef<'_>, _outcome: Outcome) {
        if let Some(code) = self.status {
            span.set_attribute(KeyValue::new("rpc.response.status_code", grpc_code_name(code)));
        }
    }

    fn record(&self, i: &ClientInstruments, secs: f64, _outcome: Outcome, error: Option<Cow<'static, str>>) {
        let mut attrs = Vec::with_capacity(7);
        attrs.push(KeyValue::new("rpc.system.name", "grpc"));
        attrs.push(KeyValue::new("rpc.method", self.method.clone()));
        if let Some(code) = self.status {
            attrs.push(KeyValue::new("rpc.response.status_code", grpc_code_name(code)));
        }
        if let Some(e) = error {
            attrs.push(KeyValue::new("error.type", rules::string(e)));
        }
        add_client_side_server(&mut attrs, self.server.as_ref());
        i.rpc_duration.record(secs, &attrs);
    }
}
