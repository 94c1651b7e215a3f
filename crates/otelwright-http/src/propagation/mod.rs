//! Strict W3C propagation around whatever propagators are installed globally (`OTEL_PROPAGATORS`).
//!
//! The stock propagators read only the first header field, accept lengths and flags the W3C rules reject, take
//! `tracestate` the grammar forbids, and follow an older reading of Trace Context: they drop the random flag
//! (`0x02`) both ways and cannot hold every `tracestate` key the current grammar allows. So:
//!
//! - in front, [`extract`] validates `traceparent` (Level 2), `tracestate` and `baggage` and hands the propagators
//!   only canonical values: an invalid `traceparent` (or a repeated one) starts a new trace and takes `tracestate`
//!   with it; an invalid `tracestate` is dropped on its own; invalid baggage members are dropped one by one;
//! - behind them, the extracted parent gets the random flag back, and the received `tracestate` is kept in the
//!   context; [`inject`] then writes the random flag (the incoming one for a continued trace, see
//!   `received.rs`; the one our layers set on new roots, see `random.rs`) and the `tracestate` as received (with
//!   whatever the application changed applied to it), and never an empty `tracestate`.
//!
//! The rules cite `spec/20-http_request_header_format.md` and `spec/30-processing-model.md` of w3c/trace-context
//! by heading. Nothing here errors or panics on input.
//!
//! ```
//! use http::HeaderMap;
//! use opentelemetry::trace::TraceContextExt;
//!
//! let propagator = opentelemetry_sdk::propagation::TraceContextPropagator::new();
//! let mut headers = HeaderMap::new();
//! headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".parse().unwrap());
//! let cx = otelwright_http::propagation::extract_with(&propagator, &headers);
//! assert!(cx.span().span_context().is_remote());
//! assert_eq!(cx.span().span_context().trace_flags().to_u8(), 0x03, "sampled and random");
//!
//! let mut out = HeaderMap::new();
//! otelwright_http::propagation::inject_with(&propagator, &cx, &mut out);
//! assert_eq!(out["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
//!
//! headers.insert("traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01".parse().unwrap());
//! let cx = otelwright_http::propagation::extract_with(&propagator, &headers);
//! assert!(!cx.span().span_context().is_valid(), "uppercase hex is invalid: a new trace starts");
//! ```

mod baggage;
mod random;
mod received;
mod traceparent;
mod tracestate;

pub(crate) use random::with_random_flag;

#[cfg(test)]
mod tests;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};

use received::{Received, ReceivedState};
use traceparent::{RANDOM, SAMPLED, TraceParent};

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
const BAGGAGE: &str = "baggage";

/// The request's headers as the propagators may see them: `traceparent`, `tracestate` and `baggage` replaced by
/// their validated, canonical forms (or absent), everything else as sent.
#[derive(Debug)]
pub struct Sanitized<'a> {
    headers: &'a HeaderMap,
    parent: Option<TraceParent>,
    traceparent: Option<String>,
    tracestate: Option<String>,
    baggage: Option<String>,
}

impl<'a> Sanitized<'a> {
    /// Validates the propagation headers of `headers`.
    pub fn new(headers: &'a HeaderMap) -> Self {
        let text = |name: &str| headers.get_all(name).iter().map(|v| v.to_str().ok()).collect::<Option<Vec<_>>>();
        let mut parents = headers.get_all(TRACEPARENT).iter();
        // Exactly one traceparent field. Repeated fields would combine into one value with a comma (RFC 9110
        // section 5.3, which "tracestate Header Field Values" cites for combining fields), and that is no
        // `traceparent`. Leading and trailing whitespace is not part of a field value (RFC 9110 section 5.5: "a
        // field parsing implementation MUST exclude such whitespace prior to evaluating the field value").
        let parent = match (parents.next(), parents.next()) {
            (Some(v), None) => v.to_str().ok().and_then(|v| traceparent::parse(v.trim_matches([' ', '\t']))),
            _ => None,
        };
        // "Tracestate Header": "If the vendor failed to parse `traceparent`, it MUST NOT attempt to parse
        // `tracestate`." 30-processing-model.md, "No traceparent Received" 3: "If a `tracestate` header is
        // received without an accompanying `traceparent` header, it is invalid and MUST be discarded."
        let tracestate = match parent {
            Some(_) => text(TRACESTATE)
                .and_then(|fields| tracestate::parse(fields.into_iter()))
                .map(|members| tracestate::join(&members)),
            None => None,
        };
        let baggage = headers
            .get_all(BAGGAGE)
            .iter()
            .next()
            .and_then(|_| baggage::sanitize(headers.get_all(BAGGAGE).iter().filter_map(|v| v.to_str().ok())));
        Sanitized { headers, parent, traceparent: parent.map(|p| p.header()), tracestate, baggage }
    }

    /// Gives the context the propagators extracted what they could not keep: the random flag on the remote parent
    /// (the SDK's `TraceContextPropagator` keeps only the sampled bit), and the received `tracestate`, of which the
    /// span context holds what opentelemetry's `TraceState` can. Only when the propagators took this very parent.
    fn complete(self, cx: Context) -> Context {
        let Some(parent) = self.parent else { return cx };
        let random = parent.flags & RANDOM != 0;
        if !random && self.tracestate.is_none() {
            return cx;
        }
        let (trace_id, span_id) = (TraceId::from_bytes(parent.trace_id), SpanId::from_bytes(parent.parent_id));
        let span = cx.span();
        let sc = span.span_context();
        if !(sc.is_valid() && sc.is_remote() && sc.trace_id() == trace_id && sc.span_id() == span_id) {
            return cx;
        }
        let state = self.tracestate.and_then(|list| ReceivedState::new(list, sc.trace_state()));
        let view = state.as_ref().map_or_else(|| sc.trace_state().clone(), |s| s.view.clone());
        let flags = TraceFlags::new(sc.trace_flags().to_u8() & SAMPLED | parent.flags & RANDOM);
        let completed = SpanContext::new(trace_id, span_id, flags, true, view);
        cx.with_remote_span_context(completed).with_value(Received { trace_id, random, tracestate: state })
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
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&sanitized));
    sanitized.complete(cx)
}

/// Extracts with the given propagator, behind the strict front end.
pub fn extract_with(propagator: &dyn TextMapPropagator, headers: &HeaderMap) -> Context {
    let sanitized = Sanitized::new(headers);
    let cx = propagator.extract(&sanitized);
    sanitized.complete(cx)
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
    complete_injection(cx, headers);
}

/// Injects `cx` with the given propagator.
pub fn inject_with(propagator: &dyn TextMapPropagator, cx: &Context, headers: &mut HeaderMap) {
    propagator.inject_context(cx, &mut HeaderInjector(headers));
    complete_injection(cx, headers);
}

/// When the propagators wrote a `traceparent` for `cx`'s span: its random flag, and the `tracestate`, as Level 2
/// wants them (see the module docs). Nothing else is touched, and no header is added that they did not write.
fn complete_injection(cx: &Context, headers: &mut HeaderMap) {
    let span = cx.span();
    let sc = span.span_context();
    if !sc.is_valid() {
        return;
    }
    let written = headers.get(TRACEPARENT).and_then(|v| v.to_str().ok()).and_then(traceparent::parse);
    let Some(mut written) = written else { return };
    if written.trace_id != sc.trace_id().to_bytes() || written.parent_id != sc.span_id().to_bytes() {
        return;
    }
    let received = cx.get::<Received>().filter(|r| r.trace_id == sc.trace_id());
    // "Random Trace ID Flag": continuing a trace, the incoming flag, set or unset, goes on with the trace id;
    // otherwise the flag of the span's context (see `random.rs`).
    let random = received.map_or(sc.trace_flags().to_u8() & RANDOM != 0, |r| r.random);
    let flags = written.flags & SAMPLED | if random { RANDOM } else { 0 };
    if flags != written.flags {
        written.flags = flags;
        if let Ok(v) = HeaderValue::from_str(&written.header()) {
            headers.insert(TRACEPARENT, v);
        }
    }
    // "tracestate Header Field Values": "Vendors MUST accept empty `tracestate` headers but SHOULD avoid sending
    // them."
    let empty = |v: &HeaderValue| v.as_bytes().iter().all(|b| matches!(b, b' ' | b'\t'));
    match received.and_then(|r| r.tracestate.as_ref()) {
        Some(state) => match state.outgoing(sc.trace_state()) {
            Some(v) => {
                headers.insert(TRACESTATE, v);
            }
            None => {
                headers.remove(TRACESTATE);
            }
        },
        None if headers.get(TRACESTATE).is_some_and(empty) => {
            headers.remove(TRACESTATE);
        }
        None => {}
    }
}
