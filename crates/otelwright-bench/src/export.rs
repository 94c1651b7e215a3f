//! `otelwright bench export`: how many spans, log records and metric points per second the SDK exports over
//! OTLP gRPC and HTTP/protobuf to another process, at the default queue and batch sizes, with no drops; the CPU
//! it spends per exported item; and the span rate as a multiple of the instrumented hello-world service's.
//!
//! For spans and log records one producer thread creates items as fast as the pipeline takes them: it keeps the
//! items in flight (created − exported − failed − dropped) below the queue's capacity, so the figure is the
//! exporter's sustained rate, never a burst into the queue. Spans carry the attributes of an HTTP server span and
//! are made through the OpenTelemetry API, as the server layer makes them; log records go through `tracing` and
//! the appender bridge, as a service's log lines do. Metric points: 2000 series (a counter and a histogram with
//! 1000 attribute sets each) collected and exported back to back.
//!
//! The receiving end is the counting sink (`grpc-count`, `http-count`: it walks each request only as far as its
//! items, so the exporter sets the pace) or the storing receiver (`grpc`, `http`: decodes and keeps every item, as
//! a collector does at least).
//!
//! CPU is read per thread from `/proc`: "export" is every thread but the producer (batching, encoding, sending);
//! "total" adds the producer's (creating and ending spans, formatting log records, recording measurements).
//!
//! The reference span rate is the everything-mode hello-world service's request rate (one server span per
//! request), measured first in the same run as `bench overhead` measures it, unless `--compare-rps` gives it.

use std::time::{Duration, Instant};

use anyhow::Context;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, TracerProvider as _};
use otelwright::{BatchSettings, Config, LogFormat, Protocol, Sampler, Signal};

use super::affinity::{self, Placement};
use super::loadgen::{Handler, LoadGen, Stop};
use super::procfs;
use super::receiver::ReceiverProcess;
use super::service::{Mode, ServerProcess};
use super::stats::Table;

/// An OTLP transport and receiving end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Transport {
    /// OTLP/gRPC to the counting sink: the exporter's own limit.
    #[value(alias = "grpc-null")]
    GrpcCount,
    /// OTLP/HTTP (protobuf) to the counting sink.
    HttpCount,
    /// OTLP/gRPC to the storing receiver.
    Grpc,
    /// OTLP/HTTP (protobuf) to the storing receiver.
    Http,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::GrpcCount => "grpc-count",
            Transport::HttpCount => "http-count",
            Transport::Grpc => "grpc",
            Transport::Http => "http",
        }
    }

    fn http(self) -> bool {
        matches!(self, Transport::Http | Transport::HttpCount)
    }
}

/// What is exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Kind {
    /// Spans.
    Spans,
    /// Log records.
    Logs,
    /// Metric data points.
    Metrics,
}

/// Options of `otelwright bench export`.
#[derive(clap::Args, Debug)]
pub(crate) struct ExportArgs {
    /// Transports (comma-separated): grpc-count and http-count go to the counting sink, grpc and http to the
    /// storing receiver.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["grpc-count", "http-count", "grpc", "http"])]
    protocols: Vec<Transport>,
    /// Signals (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["spans", "logs", "metrics"])]
    signals: Vec<Kind>,
    /// Producing time per transport and signal [default: 5s, quick: 500ms].
    #[arg(long, value_parser = crate::parse_duration)]
    duration: Option<Duration>,
    /// The span rate to compare with (the target is 10x it). Default: the everything-mode hello-world service's
    /// req/s, measured first (64 connections, 3 s; quick: 8 connections, 500 ms).
    #[arg(long)]
    compare_rps: Option<f64>,
    #[command(flatten)]
    run: crate::RunFlags,
}

/// What one phase measured.
struct Phase {
    exported: u64,
    dropped: u64,
    failed: u64,
    elapsed: Duration,
    export_cpu: Duration,
    total_cpu: Duration,
}

/// The everything-mode hello-world service's req/s (= its span rate), measured as `bench overhead` does.
async fn hello_span_rate(receiver: &ReceiverProcess, placement: &Placement, quick: bool) -> anyhow::Result<f64> {
    let (warmup, round, connections) = if quick {
        (Duration::from_millis(200), Duration::from_millis(500), 8)
    } else {
        (Duration::from_secs(1), Duration::from_secs(3), 64)
    };
    let server =
        ServerProcess::start(Mode::Everything, &receiver.count_grpc, Duration::from_secs(10), placement.server)?;
    let addr = server.addr;
    let rps = super::on_thread(placement.client, move || async move {
        let mut load = LoadGen::connect(addr, connections).await?;
        load.run(Handler::Hello, Stop::After(warmup), None).await;
        Ok(load.run(Handler::Hello, Stop::After(round), None).await.rps())
    })
    .await;
    server.stop();
    rps
}

/// Runs the bench.
pub(crate) async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let placement = args.run.start("export");
    let mut receiver = ReceiverProcess::start(placement.client)?;
    let reference = match args.compare_rps {
        Some(rps) => {
            println!("reference span rate: {rps:.0} spans/s (--compare-rps)");
            rps
        }
        None => {
            let rps = hello_span_rate(&receiver, &placement, args.run.quick).await?;
            println!(
                "reference span rate: {rps:.0} spans/s, the everything-mode hello-world service's req/s measured \
                 just now (one server span per request)"
            );
            rps
        }
    };
    if let Some(cpu) = placement.server {
        affinity::pin_process(cpu).map_err(anyhow::Error::msg)?;
        println!("(this process, the SDK under test, is on CPU {cpu})");
    }
    let duration = args.duration.unwrap_or(Duration::from_millis(if args.run.quick { 500 } else { 5000 }));
    let queue = BatchSettings::spans().max_queue_size;
    println!(
        "default batching: queue {queue}, batch {}, span delay {:?}, log delay {:?}; {duration:?} of producing per row",
        BatchSettings::spans().max_export_batch_size,
        BatchSettings::spans().schedule_delay,
        BatchSettings::logs().schedule_delay
    );
    let mut t = Table::new(&[
        "transport",
        "signal",
        "items/s",
        "x hello spans/s",
        "exported",
        "dropped",
        "failed",
        "export CPU us/item",
        "total CPU us/item",
        "receiver CPU",
    ]);
    let mut span_rates = Vec::new();
    for &transport in &args.protocols {
        for &kind in &args.signals {
            let endpoint = match transport {
                Transport::Grpc => receiver.grpc.clone(),
                Transport::Http => receiver.http.clone(),
                Transport::GrpcCount => receiver.count_grpc.clone(),
                Transport::HttpCount => receiver.count_http.clone(),
            };
            let receiver_before = procfs::cpu_time(receiver.pid());
            let thread = std::thread::Builder::new()
                .name("bench-producer".into())
                .spawn(move || phase(transport, kind, &endpoint, duration))?;
            let p = tokio::task::spawn_blocking(move || thread.join())
                .await?
                .map_err(|_| anyhow::anyhow!("the producer panicked"))??;
            let receiver_cpu = procfs::cpu_time(receiver.pid()).zip(receiver_before).map(|(a, b)| a.saturating_sub(b));
            let rate = p.exported as f64 / p.elapsed.as_secs_f64().max(1e-9);
            if kind == Kind::Spans {
                span_rates.push((transport, rate, p.dropped));
            }
            let per_item = |cpu: Duration| format!("{:.2}", cpu.as_secs_f64() * 1e6 / p.exported.max(1) as f64);
            t.row(vec![
                transport.name().to_owned(),
                format!("{kind:?}").to_lowercase(),
                format!("{rate:.0}"),
                if kind == Kind::Spans { format!("{:.1}", rate / reference.max(1e-9)) } else { String::new() },
                p.exported.to_string(),
                p.dropped.to_string(),
                p.failed.to_string(),
                per_item(p.export_cpu),
                per_item(p.total_cpu),
                receiver_cpu
                    .map_or("n/a".into(), |c| format!("{:.0}%", 100.0 * c.as_secs_f64() / p.elapsed.as_secs_f64())),
            ]);
        }
    }
    println!();
    print!("{}", t.render());
    if let Ok(r) = receiver.received() {
        println!(
            "receivers: {} export requests, {} spans, {} log records, {} metrics",
            r.requests, r.spans, r.logs, r.metrics
        );
    }
    println!(
        "note: export CPU is this process's CPU less the producer thread's, per exported item; a receiver CPU near \
         100% means the receiving end, not the exporter, set the pace"
    );
    for (transport, rate, dropped) in span_rates {
        let x = rate / reference.max(1e-9);
        let verdict = if x >= 10.0 && dropped == 0 { "met" } else { "MISSED" };
        let name = transport.name();
        println!(
            "{name} spans: {x:.1}x the reference {reference:.0} spans/s, {dropped} dropped; target >= 10x with zero \
             drops: {verdict}"
        );
    }
    receiver.stop();
    Ok(())
}

fn config(transport: Transport, endpoint: &str, kind: Kind) -> Config {
    let on = |k: Kind| if k == kind { vec![otelwright::Exporter::Otlp] } else { Vec::new() };
    Config::default()
        .service_name("otelwright-bench")
        .protocol(if transport.http() { Protocol::HttpProtobuf } else { Protocol::Grpc })
        .otlp_endpoint(endpoint)
        .sampler(Sampler::AlwaysOn)
        .log_format(LogFormat::Off)
        .exporters(Signal::Traces, on(Kind::Spans))
        .exporters(Signal::Logs, on(Kind::Logs))
        .exporters(Signal::Metrics, on(Kind::Metrics))
}

/// Items in flight the producer allows: the queue's capacity less one export batch (an export's items count as
/// exported a moment before their queue slots are released, and the producer shares the core with the batch
/// thread, which may be preempted in between) and two producing bursts.
fn headroom() -> u64 {
    let b = BatchSettings::spans();
    (b.max_queue_size - b.max_export_batch_size) as u64 - 128
}

/// Attributes of an HTTP server span, as the server layer sets them.
pub(crate) fn server_span_attributes() -> Vec<KeyValue> {
    vec![
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("url.scheme", "http"),
        KeyValue::new("url.path", "/orders/4711"),
        KeyValue::new("http.route", "/orders/{id}"),
        KeyValue::new("http.response.status_code", 200_i64),
        KeyValue::new("network.protocol.version", "1.1"),
        KeyValue::new("server.address", "127.0.0.1"),
        KeyValue::new("server.port", 8080_i64),
        KeyValue::new("client.address", "127.0.0.1"),
        KeyValue::new("user_agent.original", "otelwright-bench/0.1"),
        KeyValue::new("http.response.header.x-request-id", "3f0c1d2e-5b6a-4c7d-8e9f-0a1b2c3d4e5f"),
    ]
}

/// Starts and ends one HTTP server span with `attributes` ([`server_span_attributes`]): the span both the export
/// and the item-size measurements produce.
pub(crate) fn server_span<T: opentelemetry::trace::Tracer>(tracer: &T, attributes: &[KeyValue]) {
    let mut span = tracer
        .span_builder("GET /orders/{id}")
        .with_kind(SpanKind::Server)
        .with_attributes(attributes.to_vec())
        .start(tracer);
    span.end();
}

/// One transport and signal: builds a pipeline with only that signal, produces for `duration`, flushes, and
/// reads the counters and CPU times. Runs on the `bench-producer` thread.
fn phase(transport: Transport, kind: Kind, endpoint: &str, duration: Duration) -> anyhow::Result<Phase> {
    let telemetry = otelwright::build(config(transport, endpoint, kind)).context("building the pipeline")?;
    let counts = |t: &otelwright::Telemetry| {
        let s = t.export_stats();
        match kind {
            Kind::Spans => s.traces,
            Kind::Logs => s.logs,
            Kind::Metrics => s.metrics,
        }
    };
    let cpu_before = procfs::thread_cpu_times();
    let total_before = procfs::cpu_time(std::process::id());
    let start = Instant::now();
    match kind {
        Kind::Spans => {
            let provider = telemetry.tracer_provider().context("no tracer provider")?.clone();
            let tracer = provider.tracer("otelwright-bench");
            let attributes = server_span_attributes();
            let mut created = 0u64;
            while start.elapsed() < duration {
                let c = counts(&telemetry);
                if created - (c.exported + c.dropped + c.failed) >= headroom() {
                    std::thread::sleep(Duration::from_micros(100));
                    continue;
                }
                for _ in 0..64 {
                    server_span(&tracer, &attributes);
                }
                created += 64;
            }
            let _ = provider.force_flush();
        }
        Kind::Logs => {
            let mut created = 0u64;
            tracing::dispatcher::with_default(telemetry.dispatch(), || {
                while start.elapsed() < duration {
                    let c = counts(&telemetry);
                    if created - (c.exported + c.dropped + c.failed) >= headroom() {
                        std::thread::sleep(Duration::from_micros(100));
                        continue;
                    }
                    for i in 0..64_u64 {
                        let id = created + i;
                        tracing::info!(http.route = "/orders/{id}", order.id = id, lines = 5_u64, "order served");
                    }
                    created += 64;
                }
            });
            if let Some(p) = telemetry.logger_provider() {
                let _ = p.force_flush();
            }
        }
        Kind::Metrics => {
            let provider = telemetry.meter_provider().context("no meter provider")?.clone();
            let meter = telemetry.meter("otelwright-bench");
            let counter = meter.u64_counter("bench.requests").build();
            let histogram = meter.f64_histogram("bench.request.duration").with_unit("s").build();
            let series: Vec<[KeyValue; 3]> = (0..1000)
                .map(|i| {
                    [
                        KeyValue::new("http.route", format!("/route/{}", i % 100)),
                        KeyValue::new("http.request.method", if i % 2 == 0 { "GET" } else { "POST" }),
                        KeyValue::new("http.response.status_code", 200 + (i / 200) as i64),
                    ]
                })
                .collect();
            while start.elapsed() < duration {
                for (i, attrs) in series.iter().enumerate() {
                    counter.add(1, attrs);
                    histogram.record(0.001 * (i % 50) as f64, attrs);
                }
                let _ = provider.force_flush();
            }
        }
    }
    let elapsed = start.elapsed();
    let cpu_after = procfs::thread_cpu_times();
    let total = procfs::cpu_time(std::process::id()).zip(total_before).map_or(Duration::ZERO, |(a, b)| a - b);
    let producer = cpu_after.get("bench-producer").copied().unwrap_or_default()
        - cpu_before.get("bench-producer").copied().unwrap_or_default();
    let c = counts(&telemetry);
    telemetry.shutdown_blocking();
    Ok(Phase {
        exported: c.exported,
        dropped: c.dropped,
        failed: c.failed,
        elapsed,
        export_cpu: total.saturating_sub(producer),
        total_cpu: total,
    })
}
