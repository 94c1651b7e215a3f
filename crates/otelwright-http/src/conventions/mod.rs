//! The semantic conventions, apart from the exchanges that apply them (the tower-http split of hooks from state).
//! Each file owns one convention's span name, start attributes, error classification and measurement:
//!
//! | file | convention | chosen when |
//! |---|---|---|
//! | [`http_server`] | HTTP server spans and `http.server.*` metrics | a server request that is not gRPC |
//! | [`rpc_server`] | gRPC server spans and `rpc.server.call.duration` | `content-type: application/grpc...` |
//! | [`http_client`] | HTTP client spans and `http.client.request.duration` | a client request that is not gRPC |
//! | [`rpc_client`] | gRPC client spans and `rpc.client.call.duration` | `content-type: application/grpc...` |
//!
//! [`rules`] holds what they share (known methods, addresses, redaction, gRPC codes). An exchange picks its
//! convention once, at the start of the request ([`Server::for_request`], [`Client::for_request`]), and from then
//! on only reports what happened: response headers, body bytes, trailers, a failure, the end. The pick is an enum,
//! not a box: no allocation and no virtual call per request.

use std::borrow::Cow;
use std::sync::Arc;

use http::{HeaderMap, Method, Request, Uri, Version};
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{SpanBuilder, SpanKind, SpanRef, Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};

pub(crate) mod http_client;
pub(crate) mod http_server;
pub(crate) mod rpc_client;
pub(crate) mod rpc_server;
pub(crate) mod rules;

pub(crate) use rules::KnownMethods;

use crate::metrics::{ClientInstruments, ServerInstruments};
use crate::request_id::RequestId;
use http_client::HttpClient;
use http_server::HttpServer;
use rpc_client::RpcClient;
use rpc_server::RpcServer;
use rules::is_grpc;

/// What an exchange knows when it finishes: the HTTP status of the response (a gRPC answer has one too), or the
/// error that stood in for a response.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome {
    pub(crate) status: Option<u16>,
    pub(crate) failure: Option<&'static str>,
}

impl Outcome {
    /// Neither a response nor a failure: the caller or the peer went away first.
    pub(crate) fn cancelled(&self) -> bool {
        self.status.is_none() && self.failure.is_none()
    }

    /// The HTTP conventions' `error.type`: the status code from `min` up (500 on a server, 400 on a client).
    fn http_error_type(&self, min: u16) -> Option<Cow<'static, str>> {
        self.error_type(|s| (s >= min).then(|| Cow::Owned(s.to_string())))
    }

    /// The HTTP conventions' `http.response.status_code`, when a response arrived.
    fn set_http_status(&self, span: &SpanRef<'_>) {
        if let Some(s) = self.status {
            span.set_attribute(KeyValue::new("http.response.status_code", i64::from(s)));
        }
    }

    /// `error.type`: the failure's type when there was no response, else the convention's rule on the status.
    fn error_type(&self, by_status: impl FnOnce(u16) -> Option<Cow<'static, str>>) -> Option<Cow<'static, str>> {
        match (self.failure, self.status) {
            (Some(failure), _) => Some(Cow::Borrowed(failure)),
            (None, Some(status)) => by_status(status),
            (None, None) => None,
        }
    }
}

/// One convention's hooks after the start (the start differs per side: see [`Server`] and [`Client`]).
pub(crate) trait Conventions {
    /// The instruments the convention records into.
    type Instruments;
    /// The request started (counted as active where the convention has such a count).
    fn on_start(&self, _instruments: &Self::Instruments) {}
    /// Response headers arrived (a trailers-only gRPC answer carries `grpc-status` here).
    fn on_headers(&mut self, _headers: &HeaderMap) {}
    /// Response body bytes went through.
    fn on_data(&mut self, _bytes: usize) {}
    /// Trailers arrived (gRPC's status travels here).
    fn on_trailers(&mut self, _trailers: &HeaderMap) {}
    /// `error.type`, or `None` when the exchange did not fail by this convention.
    fn error_type(&self, outcome: Outcome) -> Option<Cow<'static, str>>;
    /// The attributes only the end knows (the response status).
    fn end_attributes(&self, span: &SpanRef<'_>, outcome: Outcome);
    /// The measurement of the finished exchange.
    fn record(&self, instruments: &Self::Instruments, secs: f64, outcome: Outcome, error: Option<Cow<'static, str>>);
}

/// Starts the exchange's span under `parent` (with the W3C random flag on a new root when trace ids are random) and
/// returns the context that carries it.
pub(crate) fn start_span(
    tracer: &BoxedTracer,
    kind: SpanKind,
    (name, attributes): (String, Vec<KeyValue>),
    parent: &Context,
    random_trace_ids: bool,
) -> Context {
    let span =
        tracer.build_with_context(SpanBuilder::from_name(name).with_kind(kind).with_attributes(attributes), parent);
    parent.with_span(crate::propagation::with_random_flag(span, parent, random_trace_ids))
}

/// Ends the exchange's span: the end attributes, and for a failed exchange `error.type` and an error status.
///
/// Semconv `docs/general/recording-errors.md`: an operation that ends in an error SHOULD get the Error status and
/// SHOULD carry `error.type`; the status description is left empty, as the status code already explains it.
pub(crate) fn end_span<C: Conventions>(
    cx: &Context,
    conventions: &C,
    outcome: Outcome,
    error: Option<&Cow<'static, str>>,
) {
    let span = cx.span();
    conventions.end_attributes(&span, outcome);
    if let Some(e) = error {
        span.set_attribute(KeyValue::new("error.type", rules::string(e.clone())));
        span.set_status(Status::error(""));
    }
    span.end();
}

/// `rpc.method`: the request path without its leading `/` (`package.Service/Method`).
fn rpc_method(uri: &Uri) -> String {
    uri.path().trim_start_matches('/').to_owned()
}

/// The server side's convention for one request.
#[derive(Debug)]
pub(crate) enum Server {
    Http(HttpServer),
    Rpc(RpcServer),
}

impl Server {
    /// gRPC by content type, else HTTP (`route` is only asked for HTTP requests).
    pub(crate) fn for_request<B>(
        req: &Request<B>,
        method: Cow<'static, str>,
        route: impl FnOnce() -> Option<Arc<str>>,
    ) -> Self {
        if is_grpc(req.headers()) {
            Server::Rpc(RpcServer::new(req))
        } else {
            Server::Http(HttpServer::new(req, method, route()))
        }
    }

    /// The span's name and start attributes.
    pub(crate) fn span_start<B>(
        &self,
        req: &Request<B>,
        method_original: Option<String>,
        request_id: Option<&RequestId>,
    ) -> (String, Vec<KeyValue>) {
        match self {
            Server::Http(c) => c.span_start(req, method_original, request_id),
            Server::Rpc(c) => c.span_start(req),
        }
    }

    /// `http.route` of an HTTP request (for the WebSocket upgrade).
    #[cfg(feature = "axum-ws")]
    pub(crate) fn route(&self) -> Option<&Arc<str>> {
        match self {
            Server::Http(c) => c.route(),
            Server::Rpc(_) => None,
        }
    }

    /// What the `slow request` warning shows as its route: `http.route`, or `rpc.method`.
    pub(crate) fn log_route(&self) -> &str {
        match self {
            Server::Http(c) => c.route().map_or("", |r| r),
            Server::Rpc(c) => c.method(),
        }
    }
}

/// The client side's convention for one request.
#[derive(Debug)]
pub(crate) enum Client {
    Http(HttpClient),
    Rpc(RpcClient),
}

impl Client {
    /// gRPC by content type, else HTTP; `server` is `server.address`/`server.port`.
    pub(crate) fn for_request(
        method: &Method,
        uri: &Uri,
        version: Version,
        headers: &HeaderMap,
        known_methods: &KnownMethods,
        server: Option<(Arc<str>, u16)>,
    ) -> (Self, Option<String>) {
        if is_grpc(headers) {
            (Client::Rpc(RpcClient::new(uri, server)), None)
        } else {
            let (c, method_original) = HttpClient::new(method, version, known_methods, server);
            (Client::Http(c), method_original)
        }
    }

    /// The span's name and start attributes.
    pub(crate) fn span_start(&self, uri: &Uri, method_original: Option<String>) -> (String, Vec<KeyValue>) {
        match self {
            Client::Http(c) => c.span_start(uri, method_original),
            Client::Rpc(c) => c.span_start(),
        }
    }
}

/// Forwards [`Conventions`] from a side's enum to the convention it holds.
macro_rules! delegate_conventions {
    ($side:ident, $instruments:ty, $($variant:ident),+) => {
        impl Conventions for $side {
            type Instruments = $instruments;

            fn on_start(&self, i: &$instruments) {
                match self { $($side::$variant(c) => c.on_start(i)),+ }
            }

            fn on_headers(&mut self, headers: &HeaderMap) {
                match self { $($side::$variant(c) => c.on_headers(headers)),+ }
            }

            fn on_data(&mut self, bytes: usize) {
                match self { $($side::$variant(c) => c.on_data(bytes)),+ }
            }

            fn on_trailers(&mut self, trailers: &HeaderMap) {
                match self { $($side::$variant(c) => c.on_trailers(trailers)),+ }
            }

            fn error_type(&self, outcome: Outcome) -> Option<Cow<'static, str>> {
                match self { $($side::$variant(c) => c.error_type(outcome)),+ }
            }

            fn end_attributes(&self, span: &SpanRef<'_>, outcome: Outcome) {
                match self { $($side::$variant(c) => c.end_attributes(span, outcome)),+ }
            }

            fn record(&self, i: &$instruments, secs: f64, outcome: Outcome, error: Option<Cow<'static, str>>) {
                match self { $($side::$variant(c) => c.record(i, secs, outcome, error)),+ }
            }
        }
    };
}

delegate_conventions!(Server, ServerInstruments, Http, Rpc);
delegate_conventions!(Client, ClientInstruments, Http, Rpc);
