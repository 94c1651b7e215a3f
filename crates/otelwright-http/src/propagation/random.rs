//! The random trace-id flag (`0x02`) on the spans our layers start.
//!
//! The SDK's tracer (opentelemetry_sdk 0.33, `SdkTracer::build_with_context`) gives a child its parent's flags
//! when the sampler records it, `00` when the sampler drops it, and a new root only the sampled bit; neither the
//! `IdGenerator` nor the sampler can set another flag. So after starting a span, the layers put the flag the
//! spec asks for on the span context the rest of the request sees (children, injection):
//!
//! - a child keeps its parent's: "Random Trace ID Flag": "If the flag is set in the incoming `traceparent` header,
//!   it MUST also be set in all outgoing `traceparent` headers which use the same `trace-id`." and "If the flag is
//!   unset in the incoming `traceparent` header, it MUST also be unset";
//! - a root, whose trace id the tracer's `IdGenerator` just drew, gets it when that generator is random (the SDK's
//!   `RandomIdGenerator` draws all 16 bytes): "When at least the right-most 7 bytes of the `trace-id` are randomly
//!   (or pseudo-randomly) generated, the `random-trace-id` flag SHOULD be set to `1`." ("trace-id": "If the
//!   right-most 7 bytes are randomly (or pseudo-randomly) generated, the corresponding random trace id flag SHOULD
//!   be set.")
//!
//! The SDK exports a span with the flags its own context was created with, so the root span itself would be
//! exported without the flag while its children, local and remote, carry it. otelwright's OTLP span processor
//! (gRPC and HTTP/protobuf) sets it on exported roots (`otelwright::export::span_processor`); the SDK's exporter,
//! which HTTP/JSON still uses, does not.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{Span, SpanContext, Status, TraceContextExt, TraceFlags};
use opentelemetry::{Context, KeyValue};

use super::traceparent::RANDOM;

/// `span`, with the random flag of its context set as the spec asks (see the module docs). `random_ids`: whether
/// the tracer's `IdGenerator` draws at least the right-most 7 bytes of a new trace id at random.
pub(crate) fn with_random_flag<S: Span>(span: S, parent: &Context, random_ids: bool) -> RandomFlag<S> {
    let sc = span.span_context();
    let parent_span = parent.span();
    let parent_sc = parent_span.span_context();
    let want = if parent_sc.is_valid() { parent_sc.trace_flags().to_u8() & RANDOM != 0 } else { random_ids };
    let flags = sc.trace_flags().to_u8();
    let context = (sc.is_valid() && (flags & RANDOM != 0) != want).then(|| {
        let flags = TraceFlags::new(if want { flags | RANDOM } else { flags & !RANDOM });
        SpanContext::new(sc.trace_id(), sc.span_id(), flags, sc.is_remote(), sc.trace_state().clone())
    });
    RandomFlag { inner: span, context }
}

/// A span whose context shows the random flag the spec asks for; everything else goes to the span it wraps.
#[derive(Debug)]
pub(crate) struct RandomFlag<S> {
    inner: S,
    /// The span context with the flag corrected, when the tracer's differs.
    context: Option<SpanContext>,
}

impl<S: Span> Span for RandomFlag<S> {
    fn add_event_with_timestamp<T>(&mut self, name: T, timestamp: SystemTime, attributes: Vec<KeyValue>)
    where
        T: Into<Cow<'static, str>>,
    {
        self.inner.add_event_with_timestamp(name, timestamp, attributes);
    }

    fn span_context(&self) -> &SpanContext {
        self.context.as_ref().unwrap_or_else(|| self.inner.span_context())
    }

    fn is_recording(&self) -> bool {
        self.inner.is_recording()
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        self.inner.set_attribute(attribute);
    }

    fn set_status(&mut self, status: Status) {
        self.inner.set_status(status);
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        self.inner.update_name(new_name);
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        self.inner.add_link(span_context, attributes);
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        self.inner.end_with_timestamp(timestamp);
    }
}
