//! Window tests: a real `SdkMeterProvider` with the window's reader, flushed by hand.

use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};

use super::*;

fn provider(window: &RequestWindow) -> SdkMeterProvider {
    let reader = PeriodicReader::builder(window.exporter()).with_interval(Duration::from_secs(3600)).build();
    SdkMeterProvider::builder().with_reader(reader).build()
}

fn histogram(provider: &SdkMeterProvider) -> opentelemetry::metrics::Histogram<f64> {
    provider
        .meter("otelwright-http")
        .f64_histogram(HTTP_SERVER_DURATION)
        .with_unit("s")
        .with_boundaries(vec![0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5])
        .build()
}

#[test]
fn percentiles_come_from_the_histogram_buckets() {
    let window = RequestWindow::new(Duration::from_secs(60), Duration::from_secs(5));
    let provider = provider(&window);
    let h = histogram(&provider);
    let ok = [KeyValue::new("http.route", "/a"), KeyValue::new("http.response.status_code", 200)];
    let failed = [KeyValue::new("http.route", "/b"), KeyValue::new("error.type", "500")];
    // 90 requests in (10, 25] ms on /a, 10 failed ones in (50, 75] ms on /b.
    for i in 0..90 {
        h.record(0.011 + f64::from(i) * 0.0001, &ok);
    }
    for _ in 0..10 {
        h.record(0.06, &failed);
    }
    assert_eq!(window.stats().collections, 0);
    provider.force_flush().unwrap();
    let s = window.stats();
    assert_eq!((s.collections, s.figures.count, s.figures.errors), (1, 100, 10));
    // Rank 50 of 100 lies in (10, 25] ms holding ranks 1..=90: 10 + 15 × 50/90.
    let p50 = s.figures.p50_ms.unwrap();
    assert!((p50 - (10.0 + 15.0 * 50.0 / 90.0)).abs() < 1e-9, "{p50}");
    // Rank 99 lies in (50, 75] ms holding ranks 91..=100, which ends at the observed max, 60 ms.
    let p99 = s.figures.p99_ms.unwrap();
    assert!((p99 - 60.0).abs() < 1e-9, "{p99}");

    // Deltas: a second collection adds only what was recorded since.
    h.record(0.2, &ok);
    provider.force_flush().unwrap();
    let s = window.stats();
    assert_eq!((s.collections, s.figures.count, s.figures.total_count, s.figures.total_errors), (2, 101, 101, 10));
    provider.shutdown().unwrap();
}

#[test]
fn steps_leave_the_window() {
    let window = RequestWindow::new(Duration::from_secs(60), Duration::from_secs(5));
    let t0 = Instant::now();
    let step = |at: Instant, n: u64| Step {
        at,
        count: n,
        errors: 0,
        min: Some(0.001),
        max: Some(0.002),
        dist: Some(Dist::Explicit { bounds: vec![0.005], counts: vec![n, 0] }),
        to_ms: 1000.0,
    };
    window.shared().push(Some(step(t0, 3)), t0);
    window.shared().push(None, t0 + Duration::from_secs(5));
    window.shared().push(Some(step(t0 + Duration::from_secs(30), 4)), t0 + Duration::from_secs(30));
    let s = window.stats_at(t0 + Duration::from_secs(59));
    assert_eq!((s.figures.count, s.collections, s.figures.total_count), (7, 3, 7));
    let s = window.stats_at(t0 + Duration::from_secs(61));
    assert_eq!((s.figures.count, s.figures.total_count), (4, 7), "the first step is older than the window");
    let s = window.stats_at(t0 + Duration::from_secs(120));
    assert_eq!((s.figures.count, s.figures.p50_ms), (0, None), "an empty window has no percentiles, not zeros");
}

#[test]
fn other_metrics_are_ignored() {
    let window = RequestWindow::default();
    let provider = provider(&window);
    provider.meter("x").f64_histogram("db.client.operation.duration").build().record(1.0, &[]);
    provider.meter("x").u64_counter("requests").build().add(1, &[]);
    provider.force_flush().unwrap();
    let s = window.stats();
    assert_eq!((s.collections, s.figures.count, s.figures.p50_ms), (1, 0, None));
}

#[test]
fn exponential_histograms_are_read_too() {
    use opentelemetry_sdk::metrics::{Aggregation, Instrument, InstrumentKind, Stream};
    let window = RequestWindow::default();
    let reader = PeriodicReader::builder(window.exporter()).with_interval(Duration::from_secs(3600)).build();
    let provider = SdkMeterProvider::builder()
        .with_reader(reader)
        .with_view(|i: &Instrument| {
            (i.kind() == InstrumentKind::Histogram).then(|| {
                let aggregation =
                    Aggregation::Base2ExponentialHistogram { max_size: 160, max_scale: 20, record_min_max: true };
                Stream::builder().with_aggregation(aggregation).build().ok()
            })?
        })
        .build();
    let h = provider.meter("otelwright-http").f64_histogram(HTTP_SERVER_DURATION).with_unit("s").build();
    for i in 1..=100 {
        h.record(f64::from(i) / 1000.0, &[]); // 1..=100 ms
    }
    provider.force_flush().unwrap();
    let s = window.stats();
    assert_eq!(s.figures.count, 100);
    // Exponential buckets are narrow (scale ≥ 3 here): the estimates land within a few percent of the truth.
    for (estimate, truth) in [(s.figures.p50_ms, 50.0), (s.figures.p95_ms, 95.0), (s.figures.p99_ms, 99.0)] {
        let estimate = estimate.unwrap();
        assert!((estimate - truth).abs() / truth < 0.1, "{estimate} vs {truth}");
    }
}
