//! `otelwright bench export`: how many spans, log records and metric points per second the SDK exports over
//! OTLP gRPC and HTTP/protobuf to a receiver in another process, at the default queue and batch sizes, with no
//! drops; and the CPU it spends per 100k items.
//!
//! For spans and log records one producer thread creates items as fast as the pipeline takes them: it keeps the
//! items in flight (created − exported − failed − dropped) below the queue's capacity, so the figure is the
//! exporter's sustained rate, never a burst into the queue. Spans carry the attributes of an HTTP server span and
//! are made through the OpenTelemetry API, as the server layer makes them; log records go through `tracing` and
//! the appender bridge, as a service's log lines do. Metric points: 2000 series (a counter and a histogram with
//! 1000 attribute sets each) collected and exported back to back.
//!
//! CPU is read per thread from `/proc`: "export" is every thread but the producer (batching, encoding, sending);
//! "total" adds the producer's (creating and ending spans, formatting log records, recording measurements).

use std::time::{Duration, Instant};

use anyhow::Context;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
use otelwright::{BatchSettings, Config, LogFormat, Protocol, Sampler, Signal};

use super::affinity::{self, Placement};
use super::procfs;
use super::receiver::ReceiverProcess;
use super::stats::Table;

/// An OTLP transport (and receiving end).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Transport {
    /// OTLP/gRPC to the storing receiver.
    Grpc,
    /// OTLP/HTTP with protobuf bodies to the storing receiver.
    Http,
    /// OTLP/gRPC to a null sink that decodes and counts only: the exporter's own limit.
    GrpcNull,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Http => "http",
            Transport::GrpcNull => "grpc-null",
        }
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
    /// Transports (comma-separated): grpc and http go to the storing receiver, grpc-null to a sink that only
    /// decodes and counts.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["grpc", "http", "grpc-null"])]
    protocols: Vec<Transport>,
    /// Signals (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["spans", "logs", "metrics"])]
    signals: Vec<Kind>,
    /// Producing time per transport and signal [default: 5s, quick: 500ms].
    #[arg(long, value_parser = crate::parse_duration)]
    duration: Option<Duration>,
    /// Span rate to compare with, e.g. the everything-mode hello-world req/s from `bench overhead` (the target
    /// is 10x that).
    #[arg(long)]
    compare_rps: Option<f64>,
    /// Do not pin this process and the receiver to separate cores.
    #[arg(long)]
    no_pin: bool,
    /// A few seconds in all (CI's smoke run); the figures mean nothing.
    #[arg(long)]
    quick: bool,
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

/// Runs the bench.
pub(crate) async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let placement = Placement::plan(args.no_pin);
    super::header("export", &placement);
    let mut receiver = ReceiverProcess::start(placement.client)?;
    if let Some(cpu) = placement.server {
        affinity::pin_process(cpu).map_err(anyhow::Error::msg)?;
        println!("(this process, the SDK under test, is on CPU {cpu})");
    }
    let duration = args.duration.unwrap_or(Duration::from_millis(if args.quick { 500 } else { 5000 }));
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
        "exported",
        "dropped",
        "failed",
        "export CPU ms/100k",
        "total CPU ms/100k",
        "receiver CPU",
    ]);
    let mut span_rates = Vec::new();
    for &transport in &args.protocols {
        for &kind in &args.signals {
            let endpoint = match transport {
                Transport::Grpc => receiver.grpc.clone(),
                Transport::Http => receiver.http.clone(),
                Transport::GrpcNull => receiver.null.clone(),
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
                span_rates.push((transport, rate));
            }
            let per_100k = |cpu: Duration| format!("{:.1}", cpu.as_secs_f64() * 1e3 * 1e5 / p.exported.max(1) as f64);
            t.row(vec![
                transport.name().to_owned(),
                format!("{kind:?}").to_lowercase(),
                format!("{rate:.0}"),
                p.exported.to_string(),
                p.dropped.to_string(),
                p.failed.to_string(),
                per_100k(p.export_cpu),
                per_100k(p.total_cpu),
                receiver_cpu
                    .map_or("n/a".into(), |c| format!("{:.0}%", 100.0 * c.as_secs_f64() / p.elapsed.as_secs_f64())),
            ]);
        }
    }
    println!();
    print!("{}", t.render());
    if let Ok(r) = receiver.received() {
        println!(
            "receiver: {} export requests, {} spans, {} log records, {} metrics",
            r.requests, r.spans, r.logs, r.metrics
        );
    }
    println!(
        "note: a receiver CPU near 100% means the receiver, not the exporter, set the pace (it decodes and stores \
         every item)"
    );
    if let Some(reference) = args.compare_rps {
        for (transport, rate) in span_rates {
            let x = rate / reference.max(1e-9);
            let verdict = if x >= 10.0 { "met" } else { "MISSED" };
            let name = transport.name();
            println!("{name} spans: {x:.1}x the reference {reference:.0} spans/s, target >= 10x: {verdict}");
        }
    }
    receiver.stop();
    Ok(())
}

fn config(transport: Transport, endpoint: &str, kind: Kind) -> Config {
    let on = |k: Kind| if k == kind { vec![otelwright::Exporter::Otlp] } else { Vec::new() };
    Config::default()
        .service_name("otelwright-bench")
        .protocol(if transport == Transport::Http { Protocol::HttpProtobuf } else { Protocol::Grpc })
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
                    let mut span = tracer
                        .span_builder("GET /orders/{id}")
                        .with_kind(SpanKind::Server)
                        .with_attributes(attributes.clone())
                        .start(&tracer);
                    span.end();
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
