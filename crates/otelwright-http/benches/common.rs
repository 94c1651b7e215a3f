//! The variants the server-layer benchmarks compare, on shared providers: an SDK tracer provider (100 % sampled,
//! batch processor into a no-op exporter) and an SDK meter provider (a periodic reader with a 1 h interval, so
//! measurements are aggregated for real but never exported during a run). Included by `benches/server_layer.rs`
//! and `examples/layer_cost.rs`.

#![allow(dead_code)]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::routing::get;
use http_body_util::BodyExt;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tower::ServiceExt;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
struct NoopExporter;

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        std::hint::black_box(batch);
        Ok(())
    }
}

fn hello() -> Router {
    Router::new().route("/hello/{name}", get(|Path(name): Path<String>| async move { format!("Hello, {name}!") }))
}

/// One request through `app`, body read to the end.
pub(crate) async fn call(app: &Router) {
    let req = http::Request::get("/hello/ada").body(Body::empty()).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    std::hint::black_box(body);
}

/// Installs the shared providers globally (the contrib layer reads the globals) and a tracing subscriber that
/// bridges tracing spans to the same tracer provider (for axum-tracing-opentelemetry).
pub(crate) fn install() -> (SdkTracerProvider, SdkMeterProvider) {
    let tracer_provider = SdkTracerProvider::builder().with_batch_exporter(NoopExporter).build();
    let reader =
        PeriodicReader::builder(InMemoryMetricExporter::default()).with_interval(Duration::from_secs(3600)).build();
    let meter_provider = SdkMeterProvider::builder().with_reader(reader).build();
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    opentelemetry::global::set_meter_provider(meter_provider.clone());
    opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    let subscriber = tracing_subscriber::registry().with(
        tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("bench")).with_tracked_inactivity(false),
    );
    tracing::subscriber::set_global_default(subscriber).unwrap();
    (tracer_provider, meter_provider)
}

/// The variants, by name. Call after [`install`].
pub(crate) fn variants() -> Vec<(&'static str, Router)> {
    let ours = |traces: bool, metrics: bool| {
        otelwright_http::HttpServerLayer::builder().traces(traces).metrics(metrics).slow_request_threshold(None).build()
    };
    let no_headers = otelwright_http::HttpServerLayer::builder().request_id(false).response_time(false).build();
    vec![
        ("bare", hello()),
        ("otelwright", hello().layer(ours(true, true))),
        ("contrib", hello().layer(opentelemetry_instrumentation_tower::http::server::Layer::new())),
        ("otelwright_span_only", hello().layer(ours(true, false))),
        ("axum_tracing_otel", hello().layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default())),
        ("otelwright_metrics_only", hello().layer(ours(false, true))),
        ("otelwright_no_headers", hello().layer(no_headers)),
        ("otelwright_off", hello().layer(ours(false, false))),
    ]
}
