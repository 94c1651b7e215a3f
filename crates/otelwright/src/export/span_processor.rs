//! [`OtlpSpanProcessor`]: the SDK's `SpanProcessor` for OTLP over gRPC and HTTP/protobuf. A sampled span is moved
//! into the queue of a [`Batcher`] (an unsampled, record-only one is skipped: only sampled spans are exported);
//! the worker encodes batches of them with [`TraceEncoder`] straight from `&SpanData`.
//!
//! The SDK hands a span to every registered processor; with a second processor it clones the span for each, so
//! `init` registers only this one on the OTLP path.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use super::batch::{Batcher, Encode};
use super::transport::Transport;
use super::{AttributeLimits, TraceEncoder};
use crate::config::BatchSettings;
use crate::selfobs::Counters;

/// The worker's side: encodes batches of spans into requests.
impl Encode for TraceEncoder {
    type Item = SpanData;

    fn encode(&mut self, items: &[SpanData], out: &mut Vec<u8>) {
        TraceEncoder::encode(self, items, out);
    }

    fn set_resource(&mut self, resource: &Resource) {
        TraceEncoder::set_resource(self, resource);
    }
}

/// Batches, encodes and sends spans; see the module docs.
#[derive(Debug)]
pub(crate) struct OtlpSpanProcessor {
    batcher: Batcher<SpanData>,
}

impl OtlpSpanProcessor {
    /// Starts the worker thread. `resource` is the provider's (it is set again when the provider is built).
    pub(crate) fn new(
        transport: Transport,
        runtime: tokio::runtime::Handle,
        settings: &BatchSettings,
        counters: Arc<Counters>,
        resource: &Resource,
        limits: AttributeLimits,
    ) -> std::io::Result<Self> {
        let encoder = TraceEncoder::new(resource, limits);
        let batcher = Batcher::start("otelwright-spans", encoder, transport, runtime, settings, counters)?;
        Ok(OtlpSpanProcessor { batcher })
    }

    #[cfg(test)]
    pub(crate) fn wakes(&self) -> usize {
        self.batcher.wakes()
    }
}

impl SpanProcessor for OtlpSpanProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, mut span: SpanData) {
        // Spec `trace/sdk.md`, "Sampling": a recording span without the sampled flag (RECORD_ONLY) reaches span
        // processors, but the "Span Exporter SHOULD NOT receive them unless the Sampled flag was also set".
        if span.span_context.is_sampled() && self.batcher.reserve() {
            mark_random_root(&mut span);
            self.batcher.push_reserved(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.batcher.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.batcher.shutdown(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.batcher.set_resource(resource);
    }
}

/// Sets the random trace-id flag (`0x02`) on a root span. The provider `init` builds draws trace ids with the
/// SDK's `RandomIdGenerator` (all 16 bytes random), and W3C Trace Context Level 2, "Random Trace ID Flag": "When at
/// least the right-most 7 bytes of the `trace-id` are randomly (or pseudo-randomly) generated, the
/// `random-trace-id` flag SHOULD be set to `1`." The SDK's tracer gives a new root only the sampled bit and no
/// sampler or `IdGenerator` can add another, so the flag is set here, on what is exported. The children of roots
/// started by otelwright's layers already carry it (`otelwright_http::propagation::random`); a child keeps the
/// flags the tracer gave it, because whether its trace id was drawn here is not known from `SpanData`.
fn mark_random_root(span: &mut SpanData) {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags};
    const RANDOM: u8 = 0x02;
    let cx = &span.span_context;
    if span.parent_span_id == SpanId::INVALID && cx.trace_flags().to_u8() & RANDOM == 0 {
        let flags = TraceFlags::new(cx.trace_flags().to_u8() | RANDOM);
        span.span_context =
            SpanContext::new(cx.trace_id(), cx.span_id(), flags, cx.is_remote(), cx.trace_state().clone());
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{Link, SpanKind, TraceId, TraceState, Tracer as _, TracerProvider as _};
    use opentelemetry::{Context, KeyValue};
    use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample};
    use otelwright_receiver::Receiver;

    use super::*;
    use crate::config::{Config, Protocol, Signal};

    const WAIT: Duration = Duration::from_secs(20);

    /// A processor exporting over gRPC to `receiver`, on the test's runtime.
    fn processor(receiver: &Receiver, settings: &BatchSettings, counters: &Arc<Counters>) -> OtlpSpanProcessor {
        let config = Config::default().protocol(Protocol::Grpc).otlp_endpoint(receiver.grpc_endpoint());
        let transport = Transport::new(&config.otlp(Signal::Traces), Signal::Traces, Default::default()).unwrap();
        let limits = AttributeLimits { value_length: None, count: Some(128) };
        let resource = Resource::builder_empty().build();
        let runtime = tokio::runtime::Handle::current();
        OtlpSpanProcessor::new(transport, runtime, settings, counters.clone(), &resource, limits).unwrap()
    }

    /// The worker is woken by full batches (the schedule delay is an hour and nobody flushes), once per batch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_worker_wakes_once_per_full_batch() {
        let receiver = Receiver::start().await.unwrap();
        let settings = BatchSettings {
            schedule_delay: Duration::from_secs(3600),
            max_queue_size: 1024,
            max_export_batch_size: 8,
            ..BatchSettings::spans()
        };
        let counters = Arc::new(Counters::new(Signal::Traces));
        let processor = processor(&receiver, &settings, &counters);
        for i in 0..64 {
            let span = SpanData {
                span_context: opentelemetry::trace::SpanContext::new(
                    TraceId::from(i as u128 + 1),
                    opentelemetry::trace::SpanId::from(i as u64 + 1),
                    opentelemetry::trace::TraceFlags::SAMPLED,
                    false,
                    TraceState::NONE,
                ),
                parent_span_id: opentelemetry::trace::SpanId::INVALID,
                parent_span_is_remote: false,
                span_kind: SpanKind::Internal,
                name: "batched".into(),
                start_time: std::time::SystemTime::now(),
                end_time: std::time::SystemTime::now(),
                attributes: Vec::new(),
                dropped_attributes_count: 0,
                events: Default::default(),
                links: Default::default(),
                status: opentelemetry::trace::Status::Unset,
                instrumentation_scope: opentelemetry::InstrumentationScope::builder("test").build(),
            };
            processor.on_end(span);
        }
        receiver.wait_for_spans(|s| s.len() == 64, WAIT).await.expect("full batches go out without a flush");
        let sizes: Vec<usize> = receiver.requests().iter().map(|r| r.items).collect();
        assert!(sizes.iter().all(|&n| n == 8), "every request is one full batch: {sizes:?}");
        let wakes = processor.wakes();
        assert!((1..=8).contains(&wakes), "woken {wakes} times for 64 spans in batches of 8");
        assert_eq!(counters_exported(&counters), 64);
        tokio::task::spawn_blocking(move || processor.shutdown_with_timeout(Duration::from_secs(5)))
            .await
            .unwrap()
            .unwrap();
    }

    fn counters_exported(counters: &Counters) -> u64 {
        // Exports are counted when their answer arrives, a moment after the receiver stored them.
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let exported = counters.counts().exported;
            if exported == 64 || std::time::Instant::now() > deadline {
                return exported;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Records spans named `record-only` without sampling them; samples the rest.
    #[derive(Clone, Debug)]
    struct RecordOnly;

    impl ShouldSample for RecordOnly {
        fn should_sample(
            &self,
            _: Option<&Context>,
            _: TraceId,
            name: &str,
            _: &SpanKind,
            _: &[KeyValue],
            _: &[Link],
        ) -> SamplingResult {
            let decision =
                if name == "record-only" { SamplingDecision::RecordOnly } else { SamplingDecision::RecordAndSample };
            SamplingResult { decision, attributes: Vec::new(), trace_state: TraceState::NONE }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recorded_but_unsampled_spans_are_not_exported() {
        let receiver = Receiver::start().await.unwrap();
        let counters = Arc::new(Counters::new(Signal::Traces));
        let provider = SdkTracerProvider::builder()
            .with_sampler(RecordOnly)
            .with_span_processor(processor(&receiver, &BatchSettings::spans(), &counters))
            .build();
        let tracer = provider.tracer("test");
        tracer.in_span("record-only", |_| {});
        tracer.in_span("sampled", |_| {});
        tracer.in_span("record-only", |_| {});
        let flushed = provider.clone();
        tokio::task::spawn_blocking(move || flushed.force_flush()).await.unwrap().unwrap();
        let spans = receiver.spans();
        let names: Vec<&str> = spans.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["sampled"]);
        let counts = counters.counts();
        assert_eq!((counts.exported, counts.dropped, counts.failed), (1, 0, 0), "{counts:?}");
        tokio::task::spawn_blocking(move || provider.shutdown()).await.unwrap().unwrap();
    }
    /// Level 2 "Random Trace ID Flag": a root, whose trace id the SDK's `RandomIdGenerator` drew, is exported with
    /// the flag; a child keeps the flags its tracer gave it (here a remote parent's `01`: "If the flag is unset in
    /// the incoming `traceparent` header, it MUST also be unset").
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn roots_are_exported_with_the_random_flag_and_children_keep_theirs() {
        use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags};
        let receiver = Receiver::start().await.unwrap();
        let counters = Arc::new(Counters::new(Signal::Traces));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor(&receiver, &BatchSettings::spans(), &counters))
            .build();
        let tracer = provider.tracer("test");
        tracer.in_span("root", |_| {});
        let remote = SpanContext::new(TraceId::from(7), SpanId::from(9), TraceFlags::SAMPLED, true, TraceState::NONE);
        let parent = Context::new().with_remote_span_context(remote);
        drop(tracer.start_with_context("remote-child", &parent));
        let flushed = provider.clone();
        tokio::task::spawn_blocking(move || flushed.force_flush()).await.unwrap().unwrap();
        let spans = receiver.spans();
        let flags = |name: &str| spans.iter().find(|s| s.name() == name).map(|s| s.span.flags);
        // Span.flags: the W3C byte, then bit 8 (`CONTEXT_HAS_IS_REMOTE`) and bit 9 (parent is remote).
        assert_eq!(flags("root"), Some(0x103), "sampled + random, local root");
        assert_eq!(flags("remote-child"), Some(0x301), "sampled only, as the remote parent said");
        tokio::task::spawn_blocking(move || provider.shutdown()).await.unwrap().unwrap();
    }
}
