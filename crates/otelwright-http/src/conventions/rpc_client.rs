//! The gRPC client convention (semconv "RPC" spans and metrics, gRPC): span name `{rpc.method}`, the status from
//! response headers or trailers, every code but `OK` as an error, and `rpc.client.call.duration`.

use std::borrow::Cow;
use std::sync::Arc;

use http::{HeaderMap, Uri};
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanRef;

use super::rules::{GrpcStatus, add_client_side_server, grpc_code_name, rpc_attributes, rpc_measurement_attributes};
use super::{Conventions, Outcome};
use crate::metrics::ClientInstruments;

/// One gRPC client call's convention state.
#[derive(Debug)]
pub(crate) struct RpcClient {
    /// `rpc.method`: `package.Service/Method`.
    method: String,
    server: Option<(Arc<str>, u16)>,
    status: GrpcStatus,
}

impl RpcClient {
    pub(super) fn new(uri: &Uri, server: Option<(Arc<str>, u16)>) -> Self {
        RpcClient { method: super::rpc_method(uri), server, status: GrpcStatus::default() }
    }

    /// Semconv `docs/rpc/rpc-spans.md`: the span is named after `rpc.method`; `rpc.system.name` is set at start,
    /// `server.address` comes from the channel target.
    pub(super) fn span_start(&self) -> (String, Vec<KeyValue>) {
        let mut attrs = rpc_attributes(&self.method);
        add_client_side_server(&mut attrs, self.server.as_ref());
        (self.method.clone(), attrs)
    }
}

impl Conventions for RpcClient {
    type Instruments = ClientInstruments;

    fn on_headers(&mut self, headers: &HeaderMap) {
        self.status.on_headers(headers);
    }

    fn on_trailers(&mut self, trailers: &HeaderMap) {
        self.status.on_trailers(trailers);
    }

    /// Semconv `docs/rpc/grpc.md`, client side: every code but `OK` is an error.
    fn error_type(&self, outcome: Outcome) -> Option<Cow<'static, str>> {
        let failed = self.status.code().filter(|c| *c != 0);
        outcome.error_type(|_| failed.map(|c| Cow::Borrowed(grpc_code_name(c))))
    }

    fn end_attributes(&self, span: &SpanRef<'_>, _outcome: Outcome) {
        if let Some(status) = self.status.attribute() {
            span.set_attribute(status);
        }
    }

    fn record(&self, i: &ClientInstruments, secs: f64, _outcome: Outcome, error: Option<Cow<'static, str>>) {
        let mut attrs = rpc_measurement_attributes(&self.method, self.status, error);
        add_client_side_server(&mut attrs, self.server.as_ref());
        i.rpc_duration.record(secs, &attrs);
    }
}
