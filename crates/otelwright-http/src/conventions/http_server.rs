//! The HTTP server convention (semconv "HTTP Server" spans and metrics): span name `{method} {http.route}`, the
//! request's attributes, 5xx as errors, and the `http.server.request.duration`, `http.server.active_requests` and
//! (opt-in) body-size measurements through the bound instruments.

use std::borrow::Cow;
use std::sync::Arc;

use http::Request;
use opentelemetry::trace::SpanRef;
use opentelemetry::{Array, KeyValue, StringValue, Value};

use super::rules::{self, add_server_side_addresses};
use super::{Conventions, Outcome};
use crate::metrics::{ActiveKey, ServerInstruments, ServerKey};
use crate::request_id::RequestId;

/// One HTTP server request's convention state.
#[derive(Debug)]
pub(crate) struct HttpServer {
    /// `http.request.method` and `url.scheme`: the attributes every measurement and the span share.
    base: ActiveKey,
    route: Option<Arc<str>>,
    version: Option<&'static str>,
    request_bytes: Option<u64>,
    response_bytes: u64,
}

impl HttpServer {
    pub(super) fn new<B>(req: &Request<B>, method: Cow<'static, str>, route: Option<Arc<str>>) -> Self {
        let headers = req.headers();
        let request_bytes =
            headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        HttpServer {
            base: ActiveKey { method, scheme: rules::scheme(headers, req.uri()) },
            route,
            version: rules::protocol_version(req.version()),
            request_bytes,
            response_bytes: 0,
        }
    }

    pub(super) fn route(&self) -> Option<&Arc<str>> {
        self.route.as_ref()
    }

    /// Semconv `docs/http/http-spans.md`, name: `{method} {target}` with `http.route` as a server's target, just
    /// `{method}` without one (never the URI path); `HTTP` stands for `_OTHER`.
    pub(super) fn span_start<B>(
        &self,
        req: &Request<B>,
        method_original: Option<String>,
        request_id: Option<&RequestId>,
    ) -> (String, Vec<KeyValue>) {
        let method: &str = &self.base.method;
        let shown = if method == "_OTHER" { "HTTP" } else { method };
        let name = match &self.route {
            Some(r) => format!("{shown} {r}"),
            None => shown.to_owned(),
        };
        let headers = req.headers();
        let uri = req.uri();
        let mut attrs = Vec::with_capacity(14);
        attrs.extend(self.base.attributes());
        attrs.push(KeyValue::new("url.path", uri.path().to_owned()));
        if let Some(original) = method_original {
            attrs.push(KeyValue::new("http.request.method_original", original));
        }
        if let Some(q) = uri.query() {
            attrs.push(KeyValue::new("url.query", rules::redact_query(q).into_owned()));
        }
        if let Some(r) = &self.route {
            attrs.push(KeyValue::new("http.route", Value::String(StringValue::from(r.clone()))));
        }
        if let Some(v) = self.version {
            attrs.push(KeyValue::new("network.protocol.version", v));
        }
        add_server_side_addresses(&mut attrs, req);
        if let Some(ua) = headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()) {
            attrs.push(KeyValue::new("user_agent.original", ua.to_owned()));
        }
        if let Some(id) = request_id {
            attrs.push(KeyValue::new(
                "http.response.header.x-request-id",
                Value::Array(Array::String(vec![StringValue::from(id.as_str().to_owned())])),
            ));
        }
        (name, attrs)
    }
}

impl Conventions for HttpServer {
    type Instruments = ServerInstruments;

    fn on_start(&self, i: &ServerInstruments) {
        i.add_active(&self.base, 1);
    }

    fn on_data(&mut self, bytes: usize) {
        self.response_bytes += bytes as u64;
    }

    /// Semconv `docs/http/http-spans.md`, Status: a 5xx SHOULD set Error, a 4xx leaves it unset on a SERVER span
    /// (the client's fault); `error.type` is then the status code.
    fn error_type(&self, outcome: Outcome) -> Option<Cow<'static, str>> {
        outcome.http_error_type(500)
    }

    fn end_attributes(&self, span: &SpanRef<'_>, outcome: Outcome) {
        outcome.set_http_status(span);
    }

    fn record(&self, i: &ServerInstruments, secs: f64, outcome: Outcome, error: Option<Cow<'static, str>>) {
        i.add_active(&self.base, -1);
        if outcome.cancelled() {
            return; // cancelled before a response: no status to report
        }
        let key = ServerKey {
            base: self.base.clone(),
            route: self.route.clone(),
            status: outcome.status,
            error_type: error,
            version: self.version,
        };
        i.record(&key, secs, self.request_bytes.unwrap_or(0), self.response_bytes);
    }
}
