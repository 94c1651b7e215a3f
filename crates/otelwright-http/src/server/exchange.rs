//! One request's observation, as a state machine: started when the request arrives, updated when the response
//! headers, body bytes and trailers go out, and finished exactly once when it is dropped — after the last body
//! frame, or early when the client goes away (then the span still ends and `http.server.active_requests` still goes
//! down). What is named, recorded and counted as an error is the convention's business
//! ([`crate::conventions::Server`], HTTP or gRPC, picked at the start).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Request, Response};
use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, TraceContextExt};

use super::shared::Shared;
use crate::conventions::{self, Conventions, Outcome, Server};
use crate::request_id::RequestId;
use crate::route::RouteInput;

static X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");
static X_RESPONSE_TIME: http::HeaderName = http::HeaderName::from_static("x-response-time");

/// `12.34ms`: milliseconds with two decimals, written digit by digit (this runs on every request).
pub(crate) fn response_time(elapsed: std::time::Duration) -> HeaderValue {
    let mut hundredths = ((elapsed.as_nanos() + 5_000) / 10_000).min(u128::from(u64::MAX)) as u64;
    let mut buf = [0u8; 32];
    let mut i = buf.len();
    for suffix in [b's', b'm'] {
        i -= 1;
        buf[i] = suffix;
    }
    let mut digits = 0;
    loop {
        if digits == 2 {
            i -= 1;
            buf[i] = b'.';
        }
        i -= 1;
        buf[i] = b'0' + (hundredths % 10) as u8;
        hundredths /= 10;
        digits += 1;
        if hundredths == 0 && digits >= 3 {
            break;
        }
    }
    HeaderValue::from_bytes(&buf[i..]).unwrap_or(HeaderValue::from_static("0.00ms"))
}

/// The state of one server request. Opaque: it only appears as the observer type of the response body.
pub struct ServerExchange {
    shared: Arc<Shared>,
    pub(crate) cx: Context,
    start: Instant,
    traced: bool,
    measured: bool,
    /// HTTP or gRPC: names, attributes, errors and measurements.
    conventions: Server,
    /// `http.request.method` (for the `slow request` warning).
    method: Cow<'static, str>,
    request_id: Option<RequestId>,
    status: Option<u16>,
    failure: Option<&'static str>,
}

impl std::fmt::Debug for ServerExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerExchange")
            .field("method", &self.method)
            .field("conventions", &self.conventions)
            .finish_non_exhaustive()
    }
}

impl ServerExchange {
    pub(crate) fn start<B>(shared: &Arc<Shared>, req: &mut Request<B>) -> Box<Self> {
        let start = Instant::now();
        let headers = req.headers();
        let excluded = shared.excluded(req.uri().path());
        let request_id = shared.request_id.then(|| RequestId::from_header_or_new(headers.get(&X_REQUEST_ID)));
        let (method, method_original) = shared.known_methods.normalize(req.method());
        let conventions = Server::for_request(req, method.clone(), || {
            shared.route.route(&RouteInput { method: req.method(), uri: req.uri(), extensions: req.extensions() })
        });
        let traced = shared.tracer.is_some() && !excluded;
        let measured = shared.instruments.is_some() && !excluded;
        let parent = if traced {
            match &shared.propagator {
                Some(p) => crate::propagation::extract_with(p.as_ref(), headers),
                None => crate::propagation::extract(headers),
            }
        } else {
            Context::current()
        };
        let mut cx = match (&shared.tracer, traced) {
            (Some(tracer), true) => {
                let span = conventions.span_start(req, method_original, request_id.as_ref());
                conventions::start_span(tracer, SpanKind::Server, span, &parent, shared.random_trace_ids)
            }
            _ => parent,
        };
        if let Some(id) = &request_id {
            req.extensions_mut().insert(id.clone());
            cx = cx.with_value(id.clone());
        }
        #[cfg(feature = "axum-ws")]
        if (traced || measured) && crate::ws::is_upgrade(req) {
            // The WebSocket extractor picks this up: the connection span's parent, its route, and the layer.
            req.extensions_mut().insert(crate::ws::Upgrade {
                shared: shared.clone(),
                parent: cx.clone(),
                route: conventions.route().cloned(),
                traced,
                measured,
            });
        }
        if measured && let Some(i) = &shared.instruments {
            conventions.on_start(i);
        }
        Box::new(ServerExchange {
            shared: shared.clone(),
            cx,
            start,
            traced,
            measured,
            conventions,
            method,
            request_id,
            status: None,
            failure: None,
        })
    }
}

impl crate::future::Exchange for ServerExchange {
    /// Response headers are ready: note the status and add our headers.
    fn on_response<B>(&mut self, resp: &mut Response<B>) {
        self.status = Some(resp.status().as_u16());
        self.conventions.on_headers(resp.headers());
        let headers = resp.headers_mut();
        if let Some(id) = &self.request_id {
            headers.insert(&X_REQUEST_ID, id.header_value());
        }
        if self.shared.response_time {
            headers.insert(&X_RESPONSE_TIME, response_time(self.start.elapsed()));
        }
    }

    /// The inner service failed before producing a response.
    fn on_failure(&mut self, error_type: &'static str) {
        self.failure = Some(error_type);
    }
}

impl ServerExchange {
    fn finish(&mut self) {
        let elapsed = self.start.elapsed();
        let outcome = Outcome { status: self.status, failure: self.failure };
        let error_type = self.conventions.error_type(outcome);
        if self.traced {
            conventions::end_span(&self.cx, &self.conventions, outcome, error_type.as_ref());
        }
        if self.measured
            && let Some(i) = &self.shared.instruments
        {
            self.conventions.record(i, elapsed.as_secs_f64(), outcome, error_type);
        }
        if let Some(threshold) = self.shared.slow
            && elapsed > threshold
        {
            let _attached = self.cx.clone().attach();
            let trace_id = self.cx.span().span_context().trace_id().to_string();
            tracing::warn!(
                http.request.method = %self.method,
                http.route = self.conventions.log_route(),
                http.response.status_code = self.status.unwrap_or(0),
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                trace_id = %trace_id,
                "slow request"
            );
        }
    }
}

crate::body::observe_with_conventions!(ServerExchange);

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn response_time_has_two_decimals() {
        assert_eq!(super::response_time(Duration::from_micros(12_345)), "12.35ms");
        assert_eq!(super::response_time(Duration::from_micros(7)), "0.01ms");
        assert_eq!(super::response_time(Duration::ZERO), "0.00ms");
        assert_eq!(super::response_time(Duration::from_secs(3)), "3000.00ms");
    }
}
