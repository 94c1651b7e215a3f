//! `ExportTraceServiceRequest` straight from `&SpanData`: every field the SDK's OTLP exporter sends
//! (opentelemetry-proto 0.33 `transform/trace.rs`), with attribute limits applied on the way.

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceState};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

use super::common::{AttributeLimits, RequestBuilder, key_values, unix_nanos};
use super::wire;

/// `SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK` (trace.proto): the is-remote bit below is meaningful.
const CONTEXT_HAS_IS_REMOTE: u32 = 0x100;
/// `SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK` (trace.proto): the parent (for a span) or the linked span (for a
/// link) is remote.
const CONTEXT_IS_REMOTE: u32 = 0x200;

/// Encodes `ExportTraceServiceRequest` bytes (no gRPC framing): the resource once, each distinct scope once per
/// request, then the spans under their scope.
///
/// Either [`encode`](Self::encode) a batch, or [`push`](Self::push) spans one by one (as they arrive, or as the
/// queue is drained) and [`finish`](Self::finish) when the batch is complete.
#[derive(Debug, Clone)]
pub struct TraceEncoder {
    request: RequestBuilder,
    limits: AttributeLimits,
}

impl TraceEncoder {
    /// An encoder for spans of `resource`; `limits` apply to span, event and link attributes.
    pub fn new(resource: &Resource, limits: AttributeLimits) -> Self {
        TraceEncoder { request: RequestBuilder::new(resource), limits }
    }

    /// Replaces the resource (`SpanProcessor::set_resource` is called once the provider is built).
    pub fn set_resource(&mut self, resource: &Resource) {
        self.request.set_resource(resource);
    }

    /// Writes one complete request for `spans` into `out` (cleared first). Spans pushed before and not yet
    /// finished are included.
    pub fn encode(&mut self, spans: &[SpanData], out: &mut Vec<u8>) {
        for span in spans {
            self.push(span);
        }
        self.finish(out);
    }

    /// Encodes one span into the pending request.
    pub fn push(&mut self, span: &SpanData) {
        let scope = &span.instrumentation_scope;
        let limits = self.limits;
        let items = self.request.group(None, scope);
        // ScopeSpans.spans = 2.
        wire::message(items, 2, |out| span_fields(out, span, limits));
    }

    /// Spans pushed since the last [`finish`](Self::finish).
    pub fn pending(&self) -> usize {
        self.request.items()
    }

    /// The size of the request [`finish`](Self::finish) would write now, in bytes (0 with nothing pending).
    pub fn encoded_len(&self) -> usize {
        self.request.encoded_len()
    }

    /// Writes the pending spans as one request into `out` (cleared first) and starts the next request; the
    /// buffers are kept.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.request.finish(out);
    }
}

/// The fields of a `Span` message (trace.proto), in field order.
fn span_fields(out: &mut Vec<u8>, span: &SpanData, limits: AttributeLimits) {
    let cx = &span.span_context;
    // trace_id = 1, span_id = 2: always the 16 and 8 bytes, as the SDK exporter sends them.
    wire::bytes(out, 1, &cx.trace_id().to_bytes());
    wire::bytes(out, 2, &cx.span_id().to_bytes());
    trace_state(out, 3, cx.trace_state());
    // parent_span_id = 4: empty for a root span.
    if span.parent_span_id != SpanId::INVALID {
        wire::bytes(out, 4, &span.parent_span_id.to_bytes());
    }
    wire::bytes(out, 5, span.name.as_bytes());
    // kind = 6: SpanKind enum, SPAN_KIND_INTERNAL = 1 ... SPAN_KIND_CONSUMER = 5.
    let kind = match span.span_kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    };
    wire::uint(out, 6, kind);
    // start_time_unix_nano = 7, end_time_unix_nano = 8 (fixed64).
    wire::fixed64(out, 7, unix_nanos(span.start_time));
    wire::fixed64(out, 8, unix_nanos(span.end_time));
    // attributes = 9, dropped_attributes_count = 10.
    let dropped = key_values(out, 9, &span.attributes, limits);
    wire::uint(out, 10, u64::from(span.dropped_attributes_count) + u64::from(dropped));
    // events = 11: Event with time_unix_nano = 1 (fixed64), name = 2, attributes = 3, dropped_attributes_count = 4.
    for event in &span.events.events {
        wire::message(out, 11, |out| {
            wire::fixed64(out, 1, unix_nanos(event.timestamp));
            wire::bytes(out, 2, event.name.as_bytes());
            let dropped = key_values(out, 3, &event.attributes, limits);
            wire::uint(out, 4, u64::from(event.dropped_attributes_count) + u64::from(dropped));
        });
    }
    // dropped_events_count = 12.
    wire::uint(out, 12, u64::from(span.events.dropped_count));
    // links = 13: Link with trace_id = 1, span_id = 2, trace_state = 3, attributes = 4, dropped_attributes_count =
    // 5, flags = 6 (fixed32).
    for link in &span.links.links {
        let lcx = &link.span_context;
        wire::message(out, 13, |out| {
            wire::bytes(out, 1, &lcx.trace_id().to_bytes());
            wire::bytes(out, 2, &lcx.span_id().to_bytes());
            trace_state(out, 3, lcx.trace_state());
            let dropped = key_values(out, 4, &link.attributes, limits);
            wire::uint(out, 5, u64::from(link.dropped_attributes_count) + u64::from(dropped));
            wire::fixed32(out, 6, flags(lcx.trace_flags().to_u8(), lcx.is_remote()));
        });
    }
    // dropped_links_count = 14.
    wire::uint(out, 14, u64::from(span.links.dropped_count));
    // status = 15, always present: Status with message = 2, code = 3 (STATUS_CODE_UNSET = 0, OK = 1, ERROR = 2).
    // Only an error carries a message ("Description MUST only be used with the Error StatusCode value",
    // specification trace/api.md "Set Status").
    wire::message(out, 15, |out| match &span.status {
        Status::Unset => {}
        Status::Ok => wire::uint(out, 3, 1),
        Status::Error { description } => {
            wire::bytes(out, 2, description.as_bytes());
            wire::uint(out, 3, 2);
        }
    });
    // flags = 16 (fixed32).
    wire::fixed32(out, 16, flags(cx.trace_flags().to_u8(), span.parent_span_is_remote));
}

/// `Span.flags`/`Link.flags` (trace.proto `SpanFlags`): "Bits 0-7 (8 least significant bits) are the trace flags
/// as defined in W3C Trace Context specification", copied as they are, so the sampled (0x01) and random (0x02)
/// flags both survive (W3C Trace Context Level 2, "trace-flags"); "Bits 8 and 9 represent the 3 states of whether
/// the span's parent is remote": the SDK's exporter always sets HAS_IS_REMOTE, and IS_REMOTE for a remote parent
/// or linked span (opentelemetry-proto 0.33 `transform/trace.rs`, `build_span_flags`).
fn flags(trace_flags: u8, is_remote: bool) -> u32 {
    let remote = if is_remote { CONTEXT_IS_REMOTE } else { 0 };
    u32::from(trace_flags) | CONTEXT_HAS_IS_REMOTE | remote
}

/// The W3C `tracestate` header value (`key=value` members joined by `,`, what `TraceState::header` returns),
/// written without building the string.
fn trace_state(out: &mut Vec<u8>, field: u32, state: &TraceState) {
    let members = state.into_iter();
    let n = members.len();
    if n == 0 {
        return;
    }
    let len: usize = members.map(|(k, v)| k.len() + 1 + v.len()).sum::<usize>() + (n - 1);
    wire::len_prefix(out, field, len);
    for (i, (k, v)) in state.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(v.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_keep_the_whole_w3c_byte() {
        // Sampled + random (W3C Level 2), local parent.
        assert_eq!(flags(0x03, false), 0x103);
        // Random only, remote parent.
        assert_eq!(flags(0x02, true), 0x302);
        assert_eq!(flags(0x00, false), 0x100);
        assert_eq!(flags(0xff, true), 0x3ff);
    }

    #[test]
    fn trace_state_is_the_header_value() {
        for header in ["", "a=1", "foo=bar,apple=banana", "k@v=x,z=1,y=2"] {
            let state: TraceState = header.parse().unwrap();
            let mut out = Vec::new();
            trace_state(&mut out, 3, &state);
            let mut expected = Vec::new();
            wire::bytes(&mut expected, 3, state.header().as_bytes());
            assert_eq!(out, expected, "{header}");
        }
    }
}
