//! Per-request cost of the server layer next to its peers, side by side in one run, on the same providers (see
//! `common.rs`). Each iteration sends `GET /hello/{name}` through `tower::ServiceExt::oneshot` on an axum router
//! and reads the whole body (our span ends after the body).
//!
//! - `bare`: no layer.
//! - `otelwright`: span + metrics.  `contrib`: opentelemetry-instrumentation-tower, span + metrics.
//! - `otelwright_span_only` vs `axum_tracing_otel`: axum-tracing-opentelemetry's layer (span only, through the
//!   tracing-opentelemetry bridge).
//! - `otelwright_metrics_only`, `otelwright_no_headers`, `otelwright_off` (headers and request id only).
//!
//! `cargo bench -p otelwright-http --bench server_layer`; for instruction counts that the machine's load cannot
//! move, see `examples/layer_cost.rs`.

mod common;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let (tracer_provider, meter_provider) = common::install();
    let variants = common::variants();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut group = c.benchmark_group("server_layer");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(50);
    for (name, app) in &variants {
        group.bench_function(*name, |b| b.to_async(&rt).iter(|| common::call(app)));
    }
    group.finish();
    let _ = tracer_provider.shutdown();
    let _ = meter_provider.shutdown();
}

criterion_group!(benches, bench);
criterion_main!(benches);
