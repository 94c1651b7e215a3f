//! `otelwright bench collect`: what metrics cost a service in the background.
//!
//! 1. One collection cycle through the whole SDK pipeline, in this process: a resource refresh (sysinfo), then
//!    `force_flush` on otelwright's meter provider, which runs every observable callback (process and system
//!    resources, two real sqlx SQLite pools, three caches, the exporter self-metrics) plus the HTTP server
//!    histograms, encodes the points and sends them over OTLP gRPC to a receiver process. Wall time per cycle
//!    (p50/p99) and CPU per cycle. (`cargo bench -p otelwright-meters --bench collect` measures the meters alone,
//!    into an in-memory exporter.)
//! 2. The memory the whole SDK adds to a service: resident memory of the bare and the everything-mode service at
//!    start and after the same number of requests.

use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Body;
use axum::routing::get;
use otelwright::{Config, LogFormat, Protocol, Signal};
use otelwright_meters::cache::moka::MeteredCache;
use otelwright_meters::pool::sqlx::SqlxPool;
use otelwright_meters::{Meters, ResourceConfig};
use tower::ServiceExt as _;

use super::affinity::{self, Placement};
use super::loadgen::{Handler, LoadGen, Stop};
use super::procfs::{self, mib, mib_delta};
use super::receiver::ReceiverProcess;
use super::service::{Mode, ServerProcess};
use super::stats::{Table, percentile};

/// Options of `otelwright bench collect`.
#[derive(clap::Args, Debug)]
pub(crate) struct CollectArgs {
    /// Collection cycles to time [default: 200, quick: 20].
    #[arg(long)]
    cycles: Option<usize>,
    /// Requests sent to each service before its memory is read [default: 100000, quick: 2000].
    #[arg(long)]
    requests: Option<u64>,
    /// Handler the requests go to.
    #[arg(long, value_enum, default_value = "realistic")]
    handler: Handler,
    #[command(flatten)]
    run: crate::RunFlags,
}

/// Runs the bench.
pub(crate) async fn run(args: CollectArgs) -> anyhow::Result<()> {
    let placement = args.run.start("collect");
    let cycles = args.cycles.unwrap_or(if args.run.quick { 20 } else { 200 }).max(1);
    let requests = args.requests.unwrap_or(if args.run.quick { 2_000 } else { 100_000 });
    let mut receiver = ReceiverProcess::start(placement.client)?;
    if let Some(cpu) = placement.server {
        // Before the pipeline starts its threads (periodic reader, export runtime), which inherit it.
        affinity::pin_process(cpu).map_err(anyhow::Error::msg)?;
    }
    cycle_cost(&receiver, cycles).await?;
    let handler = args.handler;
    let endpoint = receiver.grpc.clone();
    super::on_thread(placement.client, move || service_memory(endpoint, requests, handler, placement)).await?;
    if let Ok(r) = receiver.received() {
        println!(
            "receiver: {} export requests, {} metrics, {} spans, {} log records",
            r.requests, r.metrics, r.spans, r.logs
        );
    }
    receiver.stop();
    Ok(())
}

/// Part 1: a metrics pipeline in this process with every meter set, timed cycle by cycle.
async fn cycle_cost(receiver: &ReceiverProcess, cycles: usize) -> anyhow::Result<()> {
    let config = Config::default()
        .service_name("otelwright-bench")
        .protocol(Protocol::Grpc)
        .otlp_endpoint(&receiver.grpc)
        .log_format(LogFormat::Off)
        .metric_interval(Duration::from_secs(3600))
        .exporters(Signal::Traces, [])
        .exporters(Signal::Logs, []);
    let telemetry = otelwright::build(config).context("building the metrics pipeline")?;
    let meter = telemetry.meter("otelwright-meters");
    let meters = Meters::new().with_resources(ResourceConfig::default().manual_refresh())?;
    meters.register_instruments(&meter);

    // Two real pools with one connection held in each, three caches with traffic.
    let mut held = Vec::new();
    for name in ["primary", "replica"] {
        let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(4).connect("sqlite::memory:").await?;
        let handle = meters.pools.add(name, SqlxPool::new(pool));
        held.push(handle.acquire().await?);
    }
    let plain = meters.caches.meter("sessions");
    let orders: MeteredCache<u64, u64> =
        MeteredCache::build(&meters.caches, "orders", moka::sync::Cache::builder().max_capacity(1000));
    let users: MeteredCache<u64, u64> =
        MeteredCache::build(&meters.caches, "users", moka::sync::Cache::builder().max_capacity(1000));
    for i in 0..500 {
        plain.read(i % 3 != 0);
        orders.insert(i % 200, i);
        let _ = users.get_with(i % 300, || i);
    }

    // HTTP server histograms with the attribute sets of a small service: 4 routes, 2 statuses.
    let provider = telemetry.meter_provider().context("the metrics pipeline has a meter provider")?;
    let layer = otelwright::http::HttpServerLayer::builder().traces(false).meter_provider(provider).build();
    let app = axum::Router::new()
        .route("/orders/{id}", get(|| async { "order" }))
        .route("/users/{id}", get(|| async { "user" }))
        .route("/cart", get(|| async { "cart" }).post(|| async { "added" }))
        .layer(layer);
    for i in 0..400_u32 {
        let uri = ["/orders/1", "/users/2", "/cart", "/missing"][(i % 4) as usize];
        let method = if i % 8 == 2 { "POST" } else { "GET" };
        let request = axum::http::Request::builder().method(method).uri(uri).body(Body::empty())?;
        let _ = app.clone().oneshot(request).await;
    }

    let provider = telemetry.meter_provider().context("no meter provider")?.clone();
    let resources = meters.resources.clone().context("no resource meter")?;
    let stats = move || telemetry.export_stats().metrics;
    let thread = std::thread::Builder::new().name("bench-collector".into()).spawn(move || {
        let _ = provider.force_flush(); // the first cycle registers every series
        let exported_before = stats().exported;
        let cpu_before = procfs::cpu_time(std::process::id());
        let (mut refresh, mut flush) = (Vec::with_capacity(cycles), Vec::with_capacity(cycles));
        for _ in 0..cycles {
            let t0 = Instant::now();
            resources.refresh();
            let t1 = Instant::now();
            let _ = provider.force_flush();
            refresh.push((t1 - t0).as_micros() as u32);
            flush.push(t1.elapsed().as_micros() as u32);
        }
        let cpu = procfs::cpu_time(std::process::id()).zip(cpu_before).map(|(a, b)| a.saturating_sub(b));
        let s = stats();
        (refresh, flush, cpu, s.exported - exported_before, s.failed)
    })?;
    let (mut refresh, mut flush, cpu, points, failed) =
        tokio::task::spawn_blocking(move || thread.join()).await?.map_err(|_| anyhow::anyhow!("collector panicked"))?;
    refresh.sort_unstable();
    flush.sort_unstable();
    let mut full: Vec<u32> = Vec::new();
    full.extend(refresh.iter().zip(&flush).map(|(a, b)| a + b));
    full.sort_unstable();
    println!("\n-- one collection cycle: resources + 2 sqlx SQLite pools + 3 caches + HTTP server metrics, OTLP gRPC");
    println!("{cycles} cycles, {} points per cycle, {failed} points failed", points / cycles as u64);
    let mut t = Table::new(&["step", "p50 us", "p99 us"]);
    for (name, v) in [("resource refresh", &refresh), ("collect + export", &flush), ("whole cycle", &full)] {
        t.row(vec![name.into(), percentile(v, 0.5).to_string(), percentile(v, 0.99).to_string()]);
    }
    print!("{}", t.render());
    if let Some(cpu) = cpu {
        println!(
            "CPU per cycle (all threads of this process): {:.0} us; at one cycle per 10 s that is {:.4}% of a core",
            cpu.as_secs_f64() * 1e6 / cycles as f64,
            cpu.as_secs_f64() * 100.0 / cycles as f64 / 10.0
        );
    }
    drop(held);
    Ok(())
}

/// Part 2: RSS of the bare and the everything-mode service, at start and after `requests` requests.
async fn service_memory(endpoint: String, requests: u64, handler: Handler, placement: Placement) -> anyhow::Result<()> {
    println!("\n-- memory the SDK adds to a service: {requests} requests to the {} handler", handler.name());
    let mut t = Table::new(&["mode", "RSS at start MiB", "RSS after MiB", "growth MiB", "req/s"]);
    let mut after_by_mode = Vec::new();
    for mode in [Mode::Bare, Mode::Everything] {
        let server = ServerProcess::start(mode, &endpoint, Duration::from_secs(10), placement.server)?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let start = server.rss();
        let mut load = LoadGen::connect(server.addr, 32).await?;
        let result = load.run(handler, Stop::Requests(requests), None).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = server.rss();
        after_by_mode.push(after);
        t.row(vec![
            mode.name().into(),
            mib(start),
            mib(after),
            mib_delta(after, start),
            format!("{:.0}", result.rps()),
        ]);
        drop(load);
        server.stop();
    }
    print!("{}", t.render());
    println!(
        "the SDK adds {} MiB (everything - bare, after the requests)",
        mib_delta(after_by_mode[1], after_by_mode[0])
    );
    Ok(())
}
