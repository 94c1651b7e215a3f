//! `otelwright bench memory`: memory stays bounded while the collector is unreachable. The everything-mode
//! service takes a warm-up, then many requests, and its resident memory is read before and after; the growth is
//! set against what the configured queues can hold (queue capacity × the measured size of a queued item, see
//! [`super::itemsize`]). Two ways to be unreachable:
//!
//! - `refused`: nothing listens on the endpoint; every export fails at once.
//! - `blackhole`: a receiver accepts and never answers, so each export waits for the exporter's timeout (10 s)
//!   while the queues fill up and then drop.

use std::time::Duration;

use otelwright::BatchSettings;

use super::affinity::Placement;
use super::loadgen::{Handler, LoadGen, Stop};
use super::procfs::{mib, mib_delta};
use super::receiver::ReceiverProcess;
use super::service::{Mode, ServerProcess, ServiceStats};
use super::stats::Table;

/// How the collector is unreachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Scenario {
    /// Nothing listens: connections are refused.
    Refused,
    /// Connections are accepted and exports never answered.
    Blackhole,
}

/// Options of `otelwright bench memory`.
#[derive(clap::Args, Debug)]
pub(crate) struct MemoryArgs {
    /// Requests measured [default: 200000, quick: 3000].
    #[arg(long)]
    requests: Option<u64>,
    /// Requests before the first reading, so pools, caches and allocator arenas reach their steady size
    /// [default: 20000, quick: 500].
    #[arg(long)]
    warmup: Option<u64>,
    /// Connections, each with one request in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Ways the collector is unreachable (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["refused", "blackhole"])]
    scenarios: Vec<Scenario>,
    #[command(flatten)]
    run: crate::RunFlags,
}

/// Runs the bench.
pub(crate) async fn run(args: MemoryArgs) -> anyhow::Result<()> {
    let placement = args.run.start("memory");
    let (span_bytes, log_bytes) = super::itemsize::measure(if args.run.quick { 2_000 } else { 20_000 });
    super::on_thread(placement.client, move || measure(args, placement, span_bytes, log_bytes)).await
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn measure(
    args: MemoryArgs,
    placement: Placement,
    span_bytes: Option<u64>,
    log_bytes: Option<u64>,
) -> anyhow::Result<()> {
    let requests = args.requests.unwrap_or(if args.run.quick { 3_000 } else { 200_000 });
    let warmup = args.warmup.unwrap_or(if args.run.quick { 500 } else { 20_000 });
    let (spans, logs) = (BatchSettings::spans().max_queue_size as u64, BatchSettings::logs().max_queue_size as u64);
    let bound = span_bytes.zip(log_bytes).map(|(s, l)| spans * s + logs * l);
    println!(
        "service: everything mode, realistic handler (2 spans + 1 log record per request), {} connections; \
         {warmup} warm-up requests, then {requests} measured",
        args.concurrency
    );
    println!(
        "queues: {spans} spans x {} B + {logs} log records x {} B = {} MiB can be held (item sizes measured in this process)",
        span_bytes.map_or("n/a".into(), |b| b.to_string()),
        log_bytes.map_or("n/a".into(), |b| b.to_string()),
        mib(bound)
    );
    let mut t = Table::new(&[
        "collector",
        "RSS before MiB",
        "RSS after MiB",
        "growth MiB",
        "queues hold MiB",
        "bounded",
        "spans exp/drop/fail",
        "logs exp/drop/fail",
        "errors",
        "req/s",
    ]);
    for &scenario in &args.scenarios {
        let mut receiver = None;
        let endpoint = match scenario {
            Scenario::Refused => format!("http://127.0.0.1:{}", closed_port()?),
            Scenario::Blackhole => {
                let mut r = ReceiverProcess::start(placement.client)?;
                r.fault("blackhole")?;
                let grpc = r.grpc.clone();
                receiver = Some(r);
                grpc
            }
        };
        let mut server = ServerProcess::start(Mode::Everything, &endpoint, Duration::from_secs(10), placement.server)?;
        let mut load = LoadGen::connect(server.addr, args.concurrency).await?;
        load.run(Handler::Realistic, Stop::Requests(warmup), None).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = server.rss();
        let result = load.run(Handler::Realistic, Stop::Requests(requests), None).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = server.rss();
        let stats = server.stats()?;
        let growth = after.zip(before).map(|(a, b)| a.saturating_sub(b));
        let bounded = match (growth, bound) {
            (Some(g), Some(b)) if g < b => "yes",
            (Some(_), Some(_)) => "NO",
            _ => "n/a",
        };
        t.row(vec![
            format!("{scenario:?}").to_lowercase(),
            mib(before),
            mib(after),
            mib_delta(after, before),
            mib(bound),
            bounded.into(),
            ServiceStats::show(stats.spans),
            ServiceStats::show(stats.logs),
            result.errors.to_string(),
            format!("{:.0}", result.rps()),
        ]);
        drop(load);
        server.stop();
        if let Some(r) = receiver {
            r.stop();
        }
    }
    println!();
    print!("{}", t.render());
    println!("growth = RSS after - RSS before the measured requests; bounded = growth below what the queues can hold");
    Ok(())
}
