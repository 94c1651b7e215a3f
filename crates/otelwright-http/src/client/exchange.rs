//! One outgoing request's observation: a CLIENT span (HTTP or, for `application/grpc`, RPC conventions) started
//! before the request leaves, its context injected into the request headers, finished exactly once on drop — after
//! the response body ended, or early if the caller gave up.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, Method, Uri, Version};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, StringValue, Value};

use super::layer::ClientShared;
use crate::body::BodyObserver;
use crate::conventions::{self, grpc_code_name};
use crate::metrics::ClientKey;

fn string(v: Cow<'static, str>) -> Value {
    Value::String(StringValue::from(v))
}

/// The state of one client request. Opaque: it only appears as the observer type of the response body.
pub struct ClientExchange {
    shared: Arc<ClientShared>,
    pub(crate) cx: Context,
    start: Instant,
    traced: bool,
    grpc_method: Option<String>,
    method: Cow<'static, str>,
    server: Option<(Arc<str>, u16)>,
    version: Option<&'static str>,
    status: Option<u16>,
    grpc_status: Option<i32>,
    failure: Option<&'static str>,
}

impl std::fmt::Debug for ClientExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientExchange")
            .field("method", &self.method)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl ClientExchange {
    /// Starts the span under the current context and injects it into `headers`.
    pub(crate) fn start(
        shared: &Arc<ClientShared>,
        method: &Method,
        uri: &Uri,
        version: Version,
        headers: &mut HeaderMap,
    ) -> Self {
        let start = Instant::now();
        let parent = Context::current();
        let grpc_method = conventions::is_grpc(headers).then(|| uri.path().trim_start_matches('/').to_owned());
        let (method_name, method_original) = shared.known_methods.normalize(method);
        let server = uri
            .host()
            .map(|h| {
                let default = if uri.scheme_str() == Some("https") { 443 } else { 80 };
                (Arc::from(h.trim_start_matches('[').trim_end_matches(']')), uri.port_u16().unwrap_or(default))
            })
            .or_else(|| shared.target.clone());
        let version = conventions::protocol_version(version);
        let traced = shared.tracer.is_some();
        let cx = match &shared.tracer {
            Some(tracer) => {
                let mut attrs = Vec::with_capacity(8);
                let name = match &grpc_method {
                    Some(rpc) => {
                        attrs.push(KeyValue::new("rpc.system.name", "grpc"));
                        attrs.push(KeyValue::new("rpc.method", rpc.clone()));
                        rpc.clone()
                    }
                    None => {
                        attrs.push(KeyValue::new("http.request.method", string(method_name.clone())));
                        attrs.push(KeyValue::new("url.full", conventions::full_url(uri)));
                        if let Some(original) = method_original {
                            attrs.push(KeyValue::new("http.request.method_original", original));
                        }
                        if let Some(v) = version {
                            attrs.push(KeyValue::new("network.protocol.version", v));
                        }
                        if method_name == "_OTHER" { "HTTP".to_owned() } else { method_name.to_string() }
                    }
                };
                if let Some((host, port)) = &server {
                    attrs.push(KeyValue::new("server.address", Value::String(StringValue::from(host.clone()))));
                    attrs.push(KeyValue::new("server.port", i64::from(*port)));
                }
                let span = tracer.build_with_context(
                    opentelemetry::trace::SpanBuilder::from_name(name)
                        .with_kind(SpanKind::Client)
                        .with_attributes(attrs),
                    &parent,
                );
                parent.with_span(crate::propagation::with_random_flag(span, &parent, shared.random_trace_ids))
            }
            None => parent,
        };
        match &shared.propagator {
            Some(p) => crate::propagation::inject_with(p.as_ref(), &cx, headers),
            None => crate::propagation::inject(&cx, headers),
        }
        ClientExchange {
            shared: shared.clone(),
            cx,
            start,
            traced,
            grpc_method,
            method: method_name,
            server,
            version,
            status: None,
            grpc_status: None,
            failure: None,
        }
    }

    /// Response headers arrived (also used by the reqwest middleware, which owns its response type).
    pub(crate) fn on_status(&mut self, status: u16, headers: &HeaderMap) {
        self.status = Some(status);
        if self.grpc_method.is_some() {
            self.grpc_status = conventions::grpc_status(headers);
        }
    }
}

impl crate::future::Exchange for ClientExchange {
    fn on_response<B>(&mut self, response: &mut http::Response<B>) {
        self.on_status(response.status().as_u16(), response.headers());
    }

    /// The request failed without a response (connect error, timeout, ...).
    fn on_failure(&mut self, error_type: &'static str) {
        self.failure = Some(error_type);
    }
}

impl ClientExchange {
    fn server_attributes(&self, attrs: &mut Vec<KeyValue>) {
        if let Some((host, port)) = &self.server {
            attrs.push(KeyValue::new("server.address", Value::String(StringValue::from(host.clone()))));
            attrs.push(KeyValue::new("server.port", i64::from(*port)));
        }
    }

    fn finish(&mut self) {
        let secs = self.start.elapsed().as_secs_f64();
        // On a client every gRPC code but OK is an error, and so is every HTTP status from 400 up.
        let error_type: Option<Cow<'static, str>> = match (&self.grpc_method, self.grpc_status, self.status) {
            _ if self.failure.is_some() => self.failure.map(Cow::Borrowed),
            (Some(_), Some(code), _) if code != 0 => Some(Cow::Borrowed(grpc_code_name(code))),
            (None, _, Some(s)) if s >= 400 => Some(Cow::Owned(s.to_string())),
            _ => None,
        };
        if self.status.is_none() && self.failure.is_none() && self.grpc_status.is_none() {
            // The caller gave up before any answer: not an error, and nothing to measure.
            if self.traced {
                self.cx.span().end();
            }
            return;
        }
        if self.traced {
            let span = self.cx.span();
            match (&self.grpc_method, self.grpc_status, self.status) {
                (Some(_), Some(code), _) => {
                    span.set_attribute(KeyValue::new("rpc.response.status_code", grpc_code_name(code)))
                }
                (None, _, Some(s)) => span.set_attribute(KeyValue::new("http.response.status_code", i64::from(s))),
                _ => {}
            }
            if let Some(e) = &error_type {
                span.set_attribute(KeyValue::new("error.type", string(e.clone())));
                span.set_status(Status::error(""));
            }
            span.end();
        }
        let Some(i) = &self.shared.instruments else { return };
        if let Some(rpc) = &self.grpc_method {
            let mut attrs = Vec::with_capacity(7);
            attrs.push(KeyValue::new("rpc.system.name", "grpc"));
            attrs.push(KeyValue::new("rpc.method", rpc.clone()));
            if let Some(code) = self.grpc_status {
                attrs.push(KeyValue::new("rpc.response.status_code", grpc_code_name(code)));
            }
            if let Some(e) = error_type {
                attrs.push(KeyValue::new("error.type", string(e)));
            }
            self.server_attributes(&mut attrs);
            i.rpc_duration.record(secs, &attrs);
        } else {
            let key = ClientKey {
                method: self.method.clone(),
                server: self.server.clone(),
                status: self.status,
                error_type,
                version: self.version,
            };
            i.record(&key, secs);
        }
    }
}

impl Drop for ClientExchange {
    fn drop(&mut self) {
        self.finish();
    }
}

impl BodyObserver for ClientExchange {
    fn context(&self) -> &Context {
        &self.cx
    }

    fn on_data(&mut self, _bytes: usize) {}

    fn on_trailers(&mut self, trailers: &HeaderMap) {
        if self.grpc_method.is_some()
            && let Some(code) = conventions::grpc_status(trailers)
        {
            self.grpc_status = Some(code);
        }
    }

    fn on_end(self) {
        // Dropping finishes.
    }
}
