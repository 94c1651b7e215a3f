//! The HTTP client convention (semconv "HTTP Client" spans and metrics): span name `{method}`, `url.full` with
//! credentials and sensitive query values redacted, every status from 400 up as an error, and
//! `http.client.request.duration` through the bound instruments.

use std::borrow::Cow;
use std::sync::Arc;

use http::{Method, Uri, Version};
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanRef;

use super::rules::{self, KnownMethods, add_client_side_server};
use super::{Conventions, Outcome};
use crate::metrics::{ClientInstruments, ClientKey};

/// One HTTP client request's convention state.
#[derive(Debug)]
pub(crate) struct HttpClient {
    method: Cow<'static, str>,
    server: Option<(Arc<str>, u16)>,
    version: Option<&'static str>,
}

impl HttpClient {
    /// The state and `http.request.method_original` when the method is not a known one.
    pub(super) fn new(
        method: &Method,
        version: Version,
        known_methods: &KnownMethods,
        server: Option<(Arc<str>, u16)>,
    ) -> (Self, Option<String>) {
        let (method, method_original) = known_methods.normalize(method);
        (HttpClient { method, server, version: rules::protocol_version(version) }, method_original)
    }

    /// Semconv `docs/http/http-spans.md`, name: a client's target is `url.template`, which this layer does not
    /// know, so the name is `{method}` (`HTTP` for `_OTHER`).
    pub(super) fn span_start(&self, uri: &Uri, method_original: Option<String>) -> (String, Vec<KeyValue>) {
        let mut attrs = Vec::with_capacity(8);
        attrs.push(KeyValue::new("http.request.method", rules::string(self.method.clone())));
        attrs.push(KeyValue::new("url.full", rules::full_url(uri)));
        if let Some(original) = method_original {
            attrs.push(KeyValue::new("http.request.method_original", original));
        }
        if let Some(v) = self.version {
            attrs.push(KeyValue::new("network.protocol.version", v));
        }
        add_client_side_server(&mut attrs, self.server.as_ref());
        let name = if self.method == "_OTHER" { "HTTP".to_owned() } else { self.method.to_string() };
        (name, attrs)
    }
}

impl Conventions for HttpClient {
    type Instruments = ClientInstruments;

    /// Semconv `docs/http/http-spans.md`, Status: a 4xx SHOULD set Error on a CLIENT span, and so does a 5xx;
    /// `error.type` is then the status code.
    fn error_type(&self, outcome: Outcome) -> Option<Cow<'static, str>> {
        outcome.http_error_type(400)
    }

    fn end_attributes(&self, span: &SpanRef<'_>, outcome: Outcome) {
        outcome.set_http_status(span);
    }

    fn record(&self, i: &ClientInstruments, secs: f64, outcome: Outcome, error: Option<Cow<'static, str>>) {
        let key = ClientKey {
            method: self.method.clone(),
            server: self.server.clone(),
            status: outcome.status,
            error_type: error,
            version: self.version,
        };
        i.record(&key, secs);
    }
}
