//! One outgoing request's observation, as a state machine: a CLIENT span started before the request leaves, its
//! context injected into the request headers, finished exactly once on drop — after the response body ended, or
//! early if the caller gave up. What is named, recorded and counted as an error is the convention's business
//! ([`crate::conventions::Client`], HTTP or gRPC, picked at the start).

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, Method, Uri, Version};
use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, TraceContextExt};

use super::shared::ClientShared;
use crate::conventions::rules::uri_server;
use crate::conventions::{self, Client, Conventions, Outcome};

/// The state of one client request. Opaque: it only appears as the observer type of the response body.
pub struct ClientExchange {
    shared: Arc<ClientShared>,
    pub(crate) cx: Context,
    start: Instant,
    traced: bool,
    /// HTTP or gRPC: names, attributes, errors and measurements.
    conventions: Client,
    status: Option<u16>,
    failure: Option<&'static str>,
}

impl std::fmt::Debug for ClientExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientExchange").field("conventions", &self.conventions).finish_non_exhaustive()
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
        // `server.address`/`server.port` from the URI, else from the channel target.
        let server = uri_server(uri).or_else(|| shared.target.clone());
        let (conventions, method_original) =
            Client::for_request(method, uri, version, headers, &shared.known_methods, server);
        let traced = shared.tracer.is_some();
        let cx = match &shared.tracer {
            Some(tracer) => {
                let span = conventions.span_start(uri, method_original);
                conventions::start_span(tracer, SpanKind::Client, span, &parent, shared.random_trace_ids)
            }
            None => parent,
        };
        match &shared.propagator {
            Some(p) => crate::propagation::inject_with(p.as_ref(), &cx, headers),
            None => crate::propagation::inject(&cx, headers),
        }
        ClientExchange { shared: shared.clone(), cx, start, traced, conventions, status: None, failure: None }
    }

    /// Response headers arrived (also used by the reqwest middleware, which owns its response type).
    pub(crate) fn on_status(&mut self, status: u16, headers: &HeaderMap) {
        self.status = Some(status);
        self.conventions.on_headers(headers);
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
    fn finish(&mut self) {
        let secs = self.start.elapsed().as_secs_f64();
        let outcome = Outcome { status: self.status, failure: self.failure };
        if outcome.cancelled() {
            // The caller gave up before any answer: not an error, and nothing to measure.
            if self.traced {
                self.cx.span().end();
            }
            return;
        }
        let error_type = self.conventions.error_type(outcome);
        if self.traced {
            conventions::end_span(&self.cx, &self.conventions, outcome, error_type.as_ref());
        }
        if let Some(i) = &self.shared.instruments {
            self.conventions.record(i, secs, outcome, error_type);
        }
    }
}

crate::body::observe_with_conventions!(ClientExchange);
