//! Strict W3C propagation in front of whatever propagators are installed globally (`OTEL_PROPAGATORS`).
//!
//! The stock propagators read only the first header field, accept lengths and flags the W3C rules reject, and
//! take `tracestate` the grammar forbids. [`extract`] first validates `traceparent` (Level 2), `tracestate` and
//! `baggage` and hands the propagators only canonical values: an invalid `traceparent` (or a repeated one) starts a
//! new trace and takes `tracestate` with it; an invalid `tracestate` is dropped on its own; invalid baggage members
//! are dropped one by one. Nothing here errors or panics on input.
//!
//! ```
//! use http::HeaderMap;
//! use opentelemetry::trace::TraceContextExt;
//!
//! let propagator = opentelemetry_sdk::propagation::TraceContextPropagator::new();
//! let mut headers = HeaderMap::new();
//! headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
//! let cx = otelwright_http::propagation::extract_with(&propagator, &headers);
//! assert!(cx.span().span_context().is_remote());
//!
//! headers.insert("traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01".parse().unwrap());
//! let cx = otelwright_http::propagation::extract_with(&propagator, &headers);
//! assert!(!cx.span().span_context().is_valid(), "uppercase hex is invalid: a new trace starts");
//! ```

mod baggage;
mod traceparent;
mod tracestate;

#[cfg(test)]
mod tests;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
const BAGGAGE: &str = "baggage";

/// The request's headers as the propagators may see them: `traceparent`, `tracestate` and `baggage` replaced by
/// their validated, canonical forms (or absent), everything else as sent.
#[derive(Debug)]
pub struct Sanitized<'a> {
    headers: &'a HeaderMap,
    traceparent: Option<String>,
    tracestate: Option<String>,
    baggage: Option<String>,
}

impl<'a> Sanitized<'a> {
    /// Validates the propagation headers of `headers`.
    pub fn new(headers: &'a HeaderMap) -> Self {
        let text = |name: &str| headers.get_all(name).iter().map(|v| v.to_str().ok()).collect::<Option<Vec<_>>>();
        let mut parents = headers.get_all(TRACEPARENT).iter();
        // Exactly one traceparent field; a repeated one is ambiguous and therefore invalid.
        let traceparent = match (parents.next(), parents.next()) {
            (Some(v), None) => v.to_str().ok().and_then(traceparent::parse),
            _ => None,
        };
        let tracestate = match traceparent {
            Some(_) => text(TRACESTATE).and_then(|fields| tracestate::sanitize(fields.into_iter())),
            None => None,
        };
        let baggage = headers
            .get_all(BAGGAGE)
            .iter()
            .next()
            .and_then(|_| baggage::sanitize(headers.get_all(BAGGAGE).iter().filter_map(|v| v.to_str().ok())));
        Sanitized { headers, traceparent: traceparent.map(|p| p.header()), tracestate, baggage }
    }

    /// The validated `traceparent`, re-emitted as version 00.
    pub fn traceparent(&self) -> Option<&str> {
        self.traceparent.as_deref()
    }

    /// The validated `tracestate`.
    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }

    /// The validated `baggage`.
    pub fn baggage(&self) -> Option<&str> {
        self.baggage.as_deref()
    }
}

impl Extractor for Sanitized<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        if key.eq_ignore_ascii_case(TRACEPARENT) {
            self.traceparent.as_deref()
        } else if key.eq_ignore_ascii_case(TRACESTATE) {
            self.tracestate.as_deref()
        } else if key.eq_ignore_ascii_case(BAGGAGE) {
            self.baggage.as_deref()
        } else {
            self.headers.get(key).and_then(|v| v.to_str().ok())
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.headers.keys().map(HeaderName::as_str).collect()
    }
}

/// Extracts the parent context with the global propagators, behind the strict front end.
pub fn extract(headers: &HeaderMap) -> Context {
    let sanitized = Sanitized::new(headers);
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&sanitized))
}

/// Extracts with the given propagator, behind the strict front end.
pub fn extract_with(propagator: &dyn TextMapPropagator, headers: &HeaderMap) -> Context {
    propagator.extract(&Sanitized::new(headers))
}

/// Writes propagation headers (lowercase names) into an outgoing request.
struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(key.as_bytes()), HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}

/// Injects `cx` into outgoing headers with the global propagators.
pub fn inject(cx: &Context, headers: &mut HeaderMap) {
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(cx, &mut HeaderInjector(headers)));
}

/// Injects `cx` with the given propagator.
pub fn inject_with(propagator: &dyn TextMapPropagator, cx: &Context, headers: &mut HeaderMap) {
    propagator.inject_context(cx, &mut HeaderInjector(headers));
}
