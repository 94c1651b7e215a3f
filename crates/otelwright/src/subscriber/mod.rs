//! The tracing-subscriber registry `init` installs: a stdout fmt layer (pretty or JSON lines), the
//! tracing-opentelemetry layer (spans -> TracerProvider) and the appender-tracing layer (events -> LoggerProvider).
//! Each layer has its own filter, so quieting stdout never stops spans from being created, and the HTTP/gRPC/OTel
//! crates' own events and spans are kept out of OTLP (they would feed back into the exporter).

mod json;

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{Config, LogFormat};
use crate::pipeline::Providers;

/// Targets that never reach OTLP: the transport and SDK crates the exporters themselves use.
const NOT_EXPORTED: &str = "h2=off,hyper=off,hyper_util=off,tonic=off,tower=off,reqwest=off,opentelemetry=off,opentelemetry_sdk=off,\
     opentelemetry_otlp=off,opentelemetry_http=off";

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

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
    let mut layers: Vec<BoxedLayer> = Vec::new();
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
    if let Some(tracer_provider) = &providers.tracer {
        let tracer = tracer_provider.tracer("otelwright");
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_tracked_inactivity(false)
                .with_filter(filter(&config.trace_filter, true))
                .boxed(),
        );
    }
    if let Some(logger_provider) = &providers.logger {
        layers.push(
            OpenTelemetryTracingBridge::new(logger_provider).with_filter(filter(&config.log_filter, true)).boxed(),
        );
    }
    tracing::Dispatch::new(Registry::default().with(layers))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::config::Signal;

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
        let providers = Providers {
            tracer: Some(opentelemetry_sdk::trace::SdkTracerProvider::builder().build()),
            meter: None,
            logger: None,
            runtime: None,
            stats: crate::selfobs::Stats::new(),
            warnings: Vec::new(),
        };
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
        let providers = Providers {
            tracer: None,
            meter: None,
            logger: None,
            runtime: None,
            stats: crate::selfobs::Stats::new(),
            warnings: Vec::new(),
        };
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
        let providers = Providers {
            tracer: Some(
                opentelemetry_sdk::trace::SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build(),
            ),
            meter: None,
            logger: None,
            runtime: None,
            stats: crate::selfobs::Stats::new(),
            warnings: Vec::new(),
        };
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
