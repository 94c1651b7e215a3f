//! Runs N requests through the server layer with one kind of incoming trace context, and for each one an outgoing
//! injection as the client layer does it, then exits: made to run under `valgrind --tool=callgrind`, whose
//! instruction counts do not move with the machine's load. The per-request figure is the difference between two
//! runs with different N, divided by the difference in N.
//!
//! Kinds: `none` (a new root), `sampled` (`-01`), `random` (`-03`), `tracestate` (`-03` and a three-member
//! `tracestate`, one key of which opentelemetry's `TraceState` cannot hold).
//!
//! `cargo build --release -p otelwright-http --example propagation_cost`
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/propagation_cost random 2000`

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http_body_util::BodyExt;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tower::ServiceExt;

#[derive(Debug)]
struct NoopExporter;

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        std::hint::black_box(batch);
        Ok(())
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "random".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let headers: &[(&'static str, &'static str)] = match kind.as_str() {
        "none" => &[],
        "sampled" => &[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")],
        "random" => &[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03")],
        "tracestate" => &[
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"),
            ("tracestate", "foo@@bar=1,congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
        ],
        other => {
            eprintln!("unknown kind {other:?}; one of none, sampled, random, tracestate");
            std::process::exit(2);
        }
    };
    let provider = SdkTracerProvider::builder().with_batch_exporter(NoopExporter).build();
    let propagator = TraceContextPropagator::new();
    let layer = otelwright_http::HttpServerLayer::builder()
        .tracer_provider(&provider)
        .propagator(TraceContextPropagator::new())
        .metrics(false)
        .build();
    let app = Router::new()
        .route(
            "/hello",
            get(move || {
                // What the client layer does for the outgoing call: inject the current context.
                let mut out = http::HeaderMap::new();
                otelwright_http::propagation::inject_with(&propagator, &opentelemetry::Context::current(), &mut out);
                std::hint::black_box(out);
                async { Ok::<_, Infallible>("hello") }
            }),
        )
        .layer(layer);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        for _ in 0..n {
            let mut req = http::Request::get("/hello").body(Body::empty()).unwrap();
            for (k, v) in headers {
                req.headers_mut().append(*k, http::HeaderValue::from_static(v));
            }
            let resp = app.clone().oneshot(req).await.unwrap();
            std::hint::black_box(resp.into_body().collect().await.unwrap().to_bytes());
        }
    });
    let _ = provider.shutdown();
}
