//! `otelwright bench soak`: the everything-mode service under a steady request rate for a set duration while the
//! collector (a receiver process) goes down (`Fault::Refuse`) and comes back every `--toggle`. One row per
//! interval: req/s, p50/p99 latency, errors, resident memory and the exporter counters' change; then a summary
//! per collector state. What it shows: latency does not depend on the collector's state, memory stays flat, and
//! export resumes after every outage, with the loss counted.

use std::time::Duration;

use tokio::time::Instant;

use super::affinity::Placement;
use super::loadgen::{Handler, LoadGen, Stop};
use super::procfs::mib;
use super::receiver::ReceiverProcess;
use super::service::{Mode, ServerProcess, ServiceStats};
use super::stats::{Table, ms, percentile};

/// Options of `otelwright bench soak`.
#[derive(clap::Args, Debug)]
pub(crate) struct SoakArgs {
    /// How long to run [default: 5m, quick: 4s].
    #[arg(long, value_parser = crate::parse_duration)]
    duration: Option<Duration>,
    /// The collector goes down and comes back up every this long [default: 20s, quick: 1s].
    #[arg(long, value_parser = crate::parse_duration)]
    toggle: Option<Duration>,
    /// One report row per this long [default: 10s, quick: 1s].
    #[arg(long, value_parser = crate::parse_duration)]
    interval: Option<Duration>,
    /// Requests per second in total [default: 1000, quick: 200].
    #[arg(long)]
    rate: Option<f64>,
    /// Connections the rate is spread over.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Metric export interval of the service.
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    metric_interval: Duration,
    #[command(flatten)]
    run: crate::RunFlags,
}

/// Runs the bench.
pub(crate) async fn run(args: SoakArgs) -> anyhow::Result<()> {
    let placement = args.run.start("soak");
    super::on_thread(placement.client, move || soak(args, placement)).await
}

/// Requests and latencies of one collector state.
#[derive(Default)]
struct PhaseTotals {
    ok: u64,
    errors: u64,
    latencies_us: Vec<u32>,
}

/// The columns of the live rows and their widths.
const COLUMNS: [&str; 10] = [
    "t s",
    "collector",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "RSS MiB",
    "spans exp/drop/fail",
    "logs exp/drop/fail",
    "points exp/drop/fail",
];
const WIDTHS: [usize; 10] = [6, 9, 7, 6, 6, 6, 7, 20, 20, 20];

/// One live row, right-aligned to the column widths.
fn line(cells: &[String]) -> String {
    let padded: Vec<String> = cells.iter().zip(WIDTHS).map(|(c, w)| format!("{c:>w$}")).collect();
    padded.join("  ")
}

fn delta(now: [u64; 3], before: [u64; 3]) -> String {
    ServiceStats::show([now[0] - before[0], now[1] - before[1], now[2] - before[2]])
}

async fn soak(args: SoakArgs, placement: Placement) -> anyhow::Result<()> {
    let q = args.run.quick;
    let duration = args.duration.unwrap_or(Duration::from_secs(if q { 4 } else { 300 }));
    let toggle = args.toggle.unwrap_or(Duration::from_secs(if q { 1 } else { 20 })).max(Duration::from_millis(100));
    let interval = args.interval.unwrap_or(Duration::from_secs(if q { 1 } else { 10 })).max(Duration::from_millis(100));
    let rate = args.rate.unwrap_or(if q { 200.0 } else { 1000.0 });
    let metric_interval = if q { Duration::from_secs(1) } else { args.metric_interval };
    println!(
        "service: everything mode, realistic handler, {rate:.0} req/s over {} connections, for {duration:?}; \
         collector down/up every {toggle:?} (receiver fault refuse/none); metrics every {metric_interval:?}",
        args.concurrency
    );
    let mut receiver = ReceiverProcess::start(placement.client)?;
    let mut server = ServerProcess::start(Mode::Everything, &receiver.grpc, metric_interval, placement.server)?;
    let mut load = LoadGen::connect(server.addr, args.concurrency).await?;

    println!("\n{}", line(&COLUMNS.map(str::to_owned)));
    let (mut up_totals, mut down_totals) = (PhaseTotals::default(), PhaseTotals::default());
    let mut rss_seen: Vec<u64> = Vec::new();
    let mut last = server.stats()?;
    let mut up = true;
    let start = Instant::now();
    while start.elapsed() < duration {
        let elapsed = start.elapsed();
        let phase = elapsed.as_nanos() / toggle.as_nanos();
        let want_up = phase.is_multiple_of(2);
        if want_up != up {
            receiver.fault(if want_up { "none" } else { "refuse" })?;
            up = want_up;
        }
        let next_toggle = toggle * (phase as u32 + 1);
        let slice = interval.min(next_toggle.saturating_sub(elapsed)).min(duration.saturating_sub(elapsed));
        if slice < Duration::from_millis(20) {
            tokio::time::sleep(slice).await;
            continue;
        }
        let result = load.run(Handler::Realistic, Stop::After(slice), Some(rate)).await;
        let stats = server.stats()?;
        let rss = server.rss();
        rss_seen.extend(rss);
        let cells = vec![
            format!("{:.0}", start.elapsed().as_secs_f64()),
            (if up { "up" } else { "down" }).to_owned(),
            format!("{:.0}", result.rps()),
            ms(result.latency_us(0.5)),
            ms(result.latency_us(0.99)),
            result.errors.to_string(),
            mib(rss),
            delta(stats.spans, last.spans),
            delta(stats.logs, last.logs),
            delta(stats.metrics, last.metrics),
        ];
        println!("{}", line(&cells));
        last = stats;
        let totals = if up { &mut up_totals } else { &mut down_totals };
        totals.ok += result.ok;
        totals.errors += result.errors;
        totals.latencies_us.extend(result.latencies_us);
    }
    receiver.fault("none")?;
    // Give the exporters one scheduled delay (5 s) plus a metric interval to send what the last outage held back.
    tokio::time::sleep(if q { Duration::from_secs(2) } else { Duration::from_secs(6) }).await;
    let end = server.stats()?;

    println!("\n-- summary by collector state");
    let mut t = Table::new(&["collector", "requests", "errors", "p50 ms", "p99 ms"]);
    for (name, totals) in [("up", &mut up_totals), ("down", &mut down_totals)] {
        totals.latencies_us.sort_unstable();
        t.row(vec![
            name.into(),
            totals.ok.to_string(),
            totals.errors.to_string(),
            ms(f64::from(percentile(&totals.latencies_us, 0.5))),
            ms(f64::from(percentile(&totals.latencies_us, 0.99))),
        ]);
    }
    print!("{}", t.render());
    if let (Some(first), Some(min), Some(max), Some(final_rss)) =
        (rss_seen.first(), rss_seen.iter().min(), rss_seen.iter().max(), rss_seen.last())
    {
        println!(
            "RSS MiB: first {}, min {}, max {}, last {}",
            mib(Some(*first)),
            mib(Some(*min)),
            mib(Some(*max)),
            mib(Some(*final_rss))
        );
    }
    println!(
        "exporter totals (exported/dropped/failed): spans {}, log records {}, metric points {}",
        ServiceStats::show(end.spans),
        ServiceStats::show(end.logs),
        ServiceStats::show(end.metrics)
    );
    if let Ok(r) = receiver.received() {
        println!(
            "receiver: {} export requests, {} spans, {} log records, {} metrics",
            r.requests, r.spans, r.logs, r.metrics
        );
    }
    drop(load);
    server.stop();
    receiver.stop();
    Ok(())
}
