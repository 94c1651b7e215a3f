//! What an incoming `traceparent`/`tracestate` says that opentelemetry's span context cannot carry on its own, kept
//! in the [`Context`](opentelemetry::Context) from extraction to injection and tied to its trace id:
//!
//! - the random flag (`0x02`), which the SDK's child spans lose when the sampler drops them (their flags become
//!   `00`), though "Random Trace ID Flag" says: "If the flag is set in the incoming `traceparent` header, it MUST
//!   also be set in all outgoing `traceparent` headers which use the same `trace-id`" (and unset likewise);
//! - the `tracestate` list as received, because opentelemetry's `TraceState` still applies the older key rule
//!   (one `@`, at most 13 characters after it) and cannot hold keys the current grammar allows (`foo@@bar`, a
//!   256-character `tenant@vendor`). "Mutating the tracestate Field": "Vendors receiving a `tracestate` request
//!   header MUST send it to outgoing requests."

use http::HeaderValue;
use opentelemetry::trace::{TraceId, TraceState};

use super::tracestate::{self, Member};

/// Stored in the extracted context when the parent came with the random flag or a `tracestate`.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) trace_id: TraceId,
    /// The incoming random flag.
    pub(crate) random: bool,
    pub(crate) tracestate: Option<ReceivedState>,
}

/// The validated `tracestate` as received, and the part of it the span context was given.
#[derive(Debug)]
pub(crate) struct ReceivedState {
    /// The list as the header to send (cloning a `HeaderValue` copies no bytes).
    header: HeaderValue,
    /// The members opentelemetry's `TraceState` accepts, in order: what samplers and the application see.
    pub(crate) view: TraceState,
}

impl ReceivedState {
    /// `list` is the front end's validated list; `propagated`, what the propagators made of it.
    pub(crate) fn new(list: String, propagated: &TraceState) -> Option<Self> {
        let members: Vec<Member<'_>> = tracestate::members(&list).collect();
        // The stock propagator already built the same TraceState when it could hold every member.
        let view = if propagated.into_iter().eq(members.iter().copied()) {
            propagated.clone()
        } else {
            TraceState::from_key_value(members.iter().copied()).unwrap_or_else(|_| {
                let held = members.iter().filter(|m| TraceState::from_key_value([**m]).is_ok());
                TraceState::from_key_value(held.copied()).unwrap_or_default()
            })
        };
        let header = HeaderValue::try_from(list).ok()?;
        Some(ReceivedState { header, view })
    }

    /// The `tracestate` to send for a span whose context now holds `now`.
    ///
    /// Unchanged, the list goes out as received ("If the value of the `traceparent` field wasn't changed before
    /// propagation, `tracestate` MUST NOT be modified as well", and there is nothing else to change). When a
    /// sampler or the application changed it, the changes are applied to the received list: "When mutating
    /// `tracestate`, the order of unmodified key/value pairs MUST be preserved. Modified keys MUST be moved to the
    /// beginning (left) of the list." Added or updated entries (the SDK puts them on the left) lead, deleted ones
    /// go, and every other received member, those the SDK could not hold included, follows in its order.
    pub(crate) fn outgoing(&self, now: &TraceState) -> Option<HeaderValue> {
        if *now == self.view {
            return Some(self.header.clone());
        }
        let list = self.header.to_str().ok()?;
        let before: Vec<Member<'_>> = self.view.into_iter().collect();
        let after: Vec<Member<'_>> = now.into_iter().collect();
        let changed: Vec<Member<'_>> = after.iter().filter(|m| !before.contains(m)).copied().collect();
        let kept = tracestate::members(list).filter(|(k, _)| {
            let held = before.iter().any(|(b, _)| b == k);
            let still_there = after.iter().any(|(a, _)| a == k);
            !changed.iter().any(|(c, _)| c == k) && (!held || still_there)
        });
        let mut out: Vec<Member<'_>> = changed.iter().copied().chain(kept).collect();
        tracestate::truncate(&mut out);
        if out.is_empty() {
            return None;
        }
        HeaderValue::try_from(tracestate::join(&out)).ok()
    }
}
