//! The tracing-subscriber registry `init` installs: a stdout fmt layer (pretty or JSON lines), the
//! tracing-opentelemetry layer (spans -> TracerProvider) and the appender-tracing layer (events -> LoggerProvider).
//! Each layer has its own filter, so quieting stdout never stops spans from being created, and the HTTP/gRPC/OTel
//! crates' own events and spans are kept out of OTLP (they would feed back into the exporter).
//!
//! An event is exported once. With the logs bridge on, events do not reach tracing-opentelemetry: each becomes a
//! log record carrying its span's trace and span ids, not also a span event (see [`ErrorStatus`] for the one
//! effect an event kept there). With OTLP logs off, an event inside a span becomes a span event, the only way it
//! leaves the process. tracing-opentelemetry's location, thread, target and inactivity attributes are opt-in
//! (`Config::span_*`, `OTELWRIGHT_SPAN_*`).

mod json;

use std::io::IsTerminal;
use std::sync::OnceLock;

use opentelemetry::trace::{Status, TraceContextExt as _, TracerProvider as _};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::dispatcher::WeakDispatch;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{FilterExt as _, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{Config, LogFormat};
use crate::pipeline::Providers;

/// Targets that never reach OTLP: the transport and SDK crates the exporters themselves use.
const NOT_EXPORTED: &str = "h2=off,hyper=off,hyper_util=off,tonic=off,tower=off,reqwest=off,opentelemetry=off,opentelemetry_sdk=off,\
     opentelemetry_otlp=off,opentelemetry_http=off";

/// The OpenTelemetry crates' own INFO lines ("global provider set", ...) are noise on stdout; their warnings and
/// errors (failed exports) are not. Applied unless the user's directives mention those crates.
const QUIET_SDK: &str = "opentelemetry=warn,opentelemetry_sdk=warn,opentelemetry_otlp=warn";

fn filter(directives: &str, exported: bool) -> EnvFilter {
    let directives = if exported {
        format!("{directives},{NOT_EXPORTED}")
    } else if directives.contains("opentelemetry") {
        directives.to_owned()
    } else {
        format!("{directives},{QUIET_SDK}")
    };
    // Directives were validated when the config was read; fall back to `info` all the same.
    EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Builds the subscriber, writing stdout lines through `writer`.
pub(crate) fn build<W>(config: &Config, providers: &Providers, writer: W) -> tracing::Dispatch
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let layers = layers(config, providers.tracer.as_ref(), providers.logger.as_ref(), writer);
    tracing::Dispatch::new(Registry::default().with(layers))
}

/// The layers of the subscriber, for any registry-like subscriber `S`: the stdout lines (through `writer`), spans
/// to the tracer provider, events to the logger provider, each behind its own filter.
pub(crate) fn layers<S, W>(
    config: &Config,
    tracer_provider: Option<&SdkTracerProvider>,
    logger_provider: Option<&SdkLoggerProvider>,
    writer: W,
) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let mut layers: Vec<Box<dyn Layer<S> + Send + Sync>> = Vec::new();
    let terminal = std::io::stdout().is_terminal();
    let json = match config.log_format {
        LogFormat::Auto => !terminal,
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Off => false,
    };
    let stdout_filter = filter(&config.log_filter, false);
    if config.log_format != LogFormat::Off {
        if json {
            layers.push(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(json::JsonLines)
                    .with_writer(writer)
                    .with_filter(stdout_filter)
                    .boxed(),
            );
        } else {
            layers.push(
                tracing_subscriber::fmt::layer()
                    .with_ansi(terminal)
                    .with_writer(writer)
                    .with_filter(stdout_filter)
                    .boxed(),
            );
        }
    }
    // ErrorStatus is kept out of the `Vec`: a `Vec` of layers does not pass on `on_register_dispatch`, which is
    // how it learns the dispatch it is part of.
    let mut error_status = None;
    if let Some(tracer_provider) = tracer_provider {
        let d = config.span_details;
        let spans = tracing_opentelemetry::layer()
            .with_tracer(tracer_provider.tracer("otelwright"))
            .with_location(d.location)
            .with_threads(d.thread)
            .with_target(d.target)
            .with_tracked_inactivity(d.inactivity);
        let trace_filter = filter(&config.trace_filter, true);
        if logger_provider.is_some() {
            // The cheap test first. An event callsite is never enabled for this layer and always for the bridge, so
            // tracing asks the layers' filters on each hit; span callsites stay cached (all filters agree).
            layers.push(spans.with_filter(filter_fn(|m| m.is_span()).and(trace_filter)).boxed());
            // Spans pass too, so that every layer's filter agrees on span callsites and their interest stays cached
            // (this layer does nothing with them); INFO events stop at the cheap test.
            let errors =
                filter_fn(|m| m.is_span() || *m.level() == Level::ERROR).and(filter(&config.trace_filter, true));
            error_status = Some(ErrorStatus(OnceLock::new()).with_filter(errors));
        } else {
            layers.push(spans.with_filter(trace_filter).boxed());
        }
    }
    if let Some(logger_provider) = logger_provider {
        layers.push(
            OpenTelemetryTracingBridge::new(logger_provider).with_filter(filter(&config.log_filter, true)).boxed(),
        );
    }
    // Not `and_then(Option)`: a `None` layer hints `LevelFilter::OFF`, which would switch every layer off.
    match error_status {
        Some(error_status) => layers.and_then(error_status).boxed(),
        None => layers.boxed(),
    }
}

/// With the logs bridge on, events do not reach tracing-opentelemetry; this layer keeps the one thing they did
/// there that a log record cannot: an ERROR event marks its span's status as Error (tracing-opentelemetry's
/// `with_error_events_to_status`, on by default), so the trace still shows where it failed. It acts on ERROR events
/// only (those the trace filter lets through, as tracing-opentelemetry would see them), and sets no description (OTel trace API,
/// "Set Status": the description is optional; the log record carries the message). The span is the event's parent
/// or the current span, when tracing-opentelemetry made it.
///
/// It reaches tracing-opentelemetry through the dispatch it is part of, which it is told when that dispatch is
/// built (inside a callback `tracing` hides the current one).
struct ErrorStatus(OnceLock<WeakDispatch>);

impl<S: Subscriber> Layer<S> for ErrorStatus {
    fn on_register_dispatch(&self, dispatch: &tracing::Dispatch) {
        let _ = self.0.set(dispatch.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        let span = if event.is_contextual() { ctx.current_span().id().cloned() } else { event.parent().cloned() };
        let Some(span) = span else { return };
        let Some(dispatch) = self.0.get().and_then(WeakDispatch::upgrade) else { return };
        if let Some(cx) = tracing_opentelemetry::get_otel_context(&span, &dispatch) {
            cx.span().set_status(Status::error(""));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::config::Signal;

    /// Providers with only `tracer` (or none), as `build` gets them from the pipeline.
    fn providers(tracer: Option<opentelemetry_sdk::trace::SdkTracerProvider>) -> Providers {
        Providers {
            tracer,
            meter: None,
            logger: None,
            runtime: None,
            stats: crate::selfobs::Stats::new(),
            warnings: Vec::new(),
        }
    }

    /// Captures stdout lines.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    #[test]
    fn json_lines_carry_trace_ids_and_span_fields() {
        let config = Config::default()
            .log_format(LogFormat::Json)
            .exporters(Signal::Logs, [])
            .exporters(Signal::Metrics, [])
            .exporters(Signal::Traces, []);
        // A tracer provider with no exporter still creates sampled spans with real ids.
        let providers = providers(Some(opentelemetry_sdk::trace::SdkTracerProvider::builder().build()));
        let capture = Capture::default();
        let dispatch = build(&config, &providers, capture.clone());
        tracing::dispatcher::with_default(&dispatch, || {
            let outer = tracing::info_span!("request", request_id = "r-42", user = 7_u64);
            let _o = outer.enter();
            let inner = tracing::info_span!("db", user = 8_u64);
            let _i = inner.enter();
            tracing::info!(rows = 3_i64, "query done");
        });
        tracing::dispatcher::with_default(&dispatch, || tracing::warn!("outside"));
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2, "{text}");
        let l = &lines[0];
        assert_eq!(l["message"], "query done");
        assert_eq!(l["level"], "INFO");
        assert_eq!(l["request_id"], "r-42");
        assert_eq!(l["user"], 8, "the inner span's field wins");
        assert_eq!(l["rows"], 3);
        assert_eq!(l["span"], "db");
        let trace_id = l["trace_id"].as_str().unwrap();
        assert_eq!(trace_id.len(), 32);
        assert_ne!(trace_id, "0".repeat(32));
        assert_eq!(l["span_id"].as_str().unwrap().len(), 16);
        assert!(lines[1].get("trace_id").is_none(), "no trace id outside a span");
        assert_eq!(lines[1]["level"], "WARN");
    }

    #[cfg(feature = "http")]
    #[test]
    fn json_lines_carry_the_request_id_of_the_context() {
        let config = Config::default().log_format(LogFormat::Json);
        let providers = providers(None);
        let capture = Capture::default();
        let dispatch = build(&config, &providers, capture.clone());
        let id = otelwright_http::RequestId::new();
        tracing::dispatcher::with_default(&dispatch, || {
            let _cx = opentelemetry::Context::current_with_value(id.clone()).attach();
            tracing::info!("inside a request");
        });
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["request_id"], id.as_str());
    }

    #[test]
    fn stdout_filter_does_not_stop_spans() {
        let config = Config::default().log_format(LogFormat::Json).log_filter("error");
        let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
        let providers = providers(Some(
            opentelemetry_sdk::trace::SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build(),
        ));
        let capture = Capture::default();
        let dispatch = build(&config, &providers, capture.clone());
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info_span!("work").in_scope(|| tracing::info!("quiet"));
        });
        assert!(capture.0.lock().unwrap().is_empty(), "info is filtered from stdout");
        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].name, "work");
    }
}
