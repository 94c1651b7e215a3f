//! The overhead of `#[measured]` per call: an async function with the attribute against the same function
//! without it, both polled to completion by a minimal executor (one `poll` with a no-op waker), with a real
//! `SdkMeterProvider` installed (a periodic reader with an hour-long interval, so it never collects during the
//! run) and the instruments aggregate for real. `floor/two_clock_reads` is the part no implementation avoids: a
//! duration needs two reads of the monotonic clock. `async/measured_with_attributes` declares an attribute
//! evaluated from an argument, which takes the unbound path (the SDK looks the attribute set up on each call).
//!
//! ```text
//! cargo bench -p otelwright-macros --bench measured -- --warm-up-time 1 --measurement-time 3
//! ```

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use otelwright::measured;

#[derive(Debug)]
struct Failed;

async fn bare(x: u64) -> Result<u64, Failed> {
    if x == u64::MAX { Err(Failed) } else { Ok(black_box(x) + 1) }
}

#[measured]
async fn measured(x: u64) -> Result<u64, Failed> {
    if x == u64::MAX { Err(Failed) } else { Ok(black_box(x) + 1) }
}

#[measured(name = "bench.named", attributes(tier = "gold", size = x % 4))]
async fn measured_with_attributes(x: u64) -> Result<u64, Failed> {
    if x == u64::MAX { Err(Failed) } else { Ok(black_box(x) + 1) }
}

fn bare_sync(x: u64) -> u64 {
    black_box(x) + 1
}

#[measured]
fn measured_sync(x: u64) -> u64 {
    black_box(x) + 1
}

/// Polls a future that completes without waiting.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => unreachable!("the benchmarked functions never wait"),
    }
}

fn overhead(c: &mut Criterion) {
    // A real pipeline whose reader does not collect during the run (an hour-long interval).
    let reader =
        PeriodicReader::builder(InMemoryMetricExporter::default()).with_interval(Duration::from_secs(3600)).build();
    let provider = SdkMeterProvider::builder().with_reader(reader).build();
    otelwright::measure::set_global_meter_provider(provider.clone());

    let mut group = c.benchmark_group("measured");
    group.bench_function("async/bare", |b| b.iter(|| run(bare(black_box(7)))));
    group.bench_function("async/measured", |b| b.iter(|| run(measured(black_box(7)))));
    group.bench_function("async/measured_with_attributes", |b| b.iter(|| run(measured_with_attributes(black_box(7)))));
    group.bench_function("sync/bare", |b| b.iter(|| bare_sync(black_box(7))));
    group.bench_function("sync/measured", |b| b.iter(|| measured_sync(black_box(7))));
    group.bench_function("floor/two_clock_reads", |b| b.iter(|| black_box(Instant::now()).elapsed()));
    group.finish();
    drop(provider);
}

criterion_group!(benches, overhead);
criterion_main!(benches);
