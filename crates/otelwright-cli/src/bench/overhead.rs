//! `otelwright bench overhead`: the same service in each mode (one process per mode, all started up front),
//! driven by the built-in load generator at a fixed concurrency, modes interleaved A B C D, A B C D ... for
//! several rounds so that a change in the machine's load hits every mode alike. Per mode: median req/s, latency
//! (mean, p50, p99), the service's CPU per request and CPU use, and the per-round ratio to bare as
//! min / median / max. Everything exports over OTLP gRPC to another process: the receiver process's null sink,
//! which decodes and counts (the least any collector does), so that the receiver, which shares the load
//! generator's core, takes as little of it as possible. The CPU the load generator and the sink used is shown
//! next to each mode: when they fill their core, the client side set the pace.

use std::time::Duration;

use super::affinity::Placement;
use super::loadgen::{Handler, LoadGen, LoadResult, Stop};
use super::procfs;
use super::receiver::ReceiverProcess;
use super::service::{Mode, ServerProcess, ServiceStats};
use super::stats::{Spread, Table, ms};

/// Options of `otelwright bench overhead`.
#[derive(clap::Args, Debug)]
pub(crate) struct OverheadArgs {
    /// Handlers to measure (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["hello", "realistic"])]
    handler: Vec<Handler>,
    /// Modes to compare (comma-separated; bare is always included).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["bare", "metrics", "traces", "everything"])]
    modes: Vec<Mode>,
    /// Rounds; each runs every mode once [default: 5, quick: 2].
    #[arg(long)]
    rounds: Option<usize>,
    /// Load time per mode per round [default: 3s, quick: 500ms].
    #[arg(long, value_parser = crate::parse_duration)]
    round: Option<Duration>,
    /// Warm-up per mode and handler before the first round [default: 2s, quick: 300ms].
    #[arg(long, value_parser = crate::parse_duration)]
    warmup: Option<Duration>,
    /// Connections per service, each with one request in flight [default: 64, quick: 8].
    #[arg(long)]
    concurrency: Option<usize>,
    /// Metric export interval of the services.
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    metric_interval: Duration,
    /// Do not pin the services and the load generator to separate cores.
    #[arg(long)]
    no_pin: bool,
    /// A few seconds in all (CI's smoke run); the figures mean nothing.
    #[arg(long)]
    quick: bool,
}

/// One mode in one round.
#[derive(Clone, Copy, Debug)]
struct Round {
    ok: u64,
    rps: f64,
    mean_us: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
    /// Service CPU seconds per wall second.
    cpu_util: f64,
    /// Service CPU microseconds per request.
    cpu_per_req_us: f64,
    /// Load generator thread CPU seconds per wall second.
    load_util: f64,
    /// Receiver process CPU seconds per wall second.
    receiver_util: f64,
}

impl Round {
    fn of(r: &LoadResult, cpu: Option<Duration>, load: Duration, receiver: Option<Duration>) -> Round {
        let cpu = cpu.unwrap_or_default().as_secs_f64();
        let wall = r.elapsed.as_secs_f64().max(1e-9);
        Round {
            load_util: load.as_secs_f64() / wall,
            receiver_util: receiver.unwrap_or_default().as_secs_f64() / wall,
            ok: r.ok,
            rps: r.rps(),
            mean_us: r.mean_latency_us(),
            p50_us: r.latency_us(0.5),
            p99_us: r.latency_us(0.99),
            errors: r.errors,
            cpu_util: cpu / wall,
            cpu_per_req_us: cpu * 1e6 / r.ok.max(1) as f64,
        }
    }
}

/// Runs the bench.
pub(crate) async fn run(args: OverheadArgs) -> anyhow::Result<()> {
    let placement = Placement::plan(args.no_pin);
    super::header("overhead", &placement);
    super::on_thread(placement.client, move || measure(args, placement)).await
}

async fn measure(args: OverheadArgs, placement: Placement) -> anyhow::Result<()> {
    let q = args.quick;
    let rounds = args.rounds.unwrap_or(if q { 2 } else { 5 }).max(1);
    let round = args.round.unwrap_or(Duration::from_millis(if q { 500 } else { 3000 }));
    let warmup = args.warmup.unwrap_or(Duration::from_millis(if q { 300 } else { 2000 }));
    let concurrency = args.concurrency.unwrap_or(if q { 8 } else { 64 });
    let mut modes = vec![Mode::Bare];
    modes.extend(args.modes.iter().copied().filter(|m| *m != Mode::Bare));
    modes.dedup();
    println!(
        "load: {concurrency} keep-alive connections per service (closed loop), {rounds} rounds x {round:?} per mode, \
         warm-up {warmup:?}; modes interleaved in each round"
    );
    println!(
        "services: one process per mode, default queues, 100 % sampling, OTLP gRPC to a null sink (decodes and \
         counts) in another process, metrics every {:?}",
        args.metric_interval
    );

    let mut receiver = ReceiverProcess::start(placement.client)?;
    let mut servers = Vec::new();
    for &mode in &modes {
        servers.push(ServerProcess::start(mode, &receiver.null, args.metric_interval, placement.server)?);
    }
    let mut verdicts = Vec::new();
    for &handler in &args.handler {
        let mut load = Vec::new();
        for s in &servers {
            load.push(LoadGen::connect(s.addr, concurrency).await?);
        }
        for l in &mut load {
            l.run(handler, Stop::After(warmup), None).await;
        }
        let mut figures: Vec<Vec<Round>> = vec![Vec::new(); servers.len()];
        let mut before = Vec::new();
        for s in &mut servers {
            before.push(s.stats()?);
        }
        for _ in 0..rounds {
            for (i, s) in servers.iter().enumerate() {
                let (before, load_before, receiver_before) = (s.cpu(), load_cpu(), procfs::cpu_time(receiver.pid()));
                let result = load[i].run(handler, Stop::After(round), None).await;
                let cpu = s.cpu().zip(before).map(|(a, b)| a.saturating_sub(b));
                let receiver_cpu =
                    procfs::cpu_time(receiver.pid()).zip(receiver_before).map(|(a, b)| a.saturating_sub(b));
                figures[i].push(Round::of(&result, cpu, load_cpu().saturating_sub(load_before), receiver_cpu));
            }
        }
        println!("\n-- {} handler ({})", handler.name(), handler.route());
        print!("{}", table(&servers, &figures));
        let mut split = Table::new(&["mode", "request path", "SDK threads", "other threads", "all"]);
        for (i, s) in servers.iter_mut().enumerate() {
            let (request, sdk, other) = s.stats()?.cpu_split(&before[i]);
            let requests: f64 = figures[i].iter().map(|r| r.ok as f64).sum::<f64>().max(1.0);
            let us = |secs: f64| format!("{:.1}", secs * 1e6 / requests);
            split.row(vec![s.mode.name().into(), us(request), us(sdk), us(other), us(request + sdk + other)]);
        }
        println!(
            "service CPU us per request by thread (request path = tokio workers; SDK threads = batch processors, reader, export runtime, resource sampler):"
        );
        print!("{}", split.render());
        if let Some(i) = servers.iter().position(|s| s.mode == Mode::Everything) {
            let ratio = Spread::of(&ratios(&figures[0], &figures[i], |r| r.rps)).median;
            let target = if handler == Handler::Hello { 0.85 } else { 0.95 };
            let verdict = if ratio >= target { "met" } else { "MISSED" };
            verdicts.push(format!(
                "{}: everything/bare throughput {ratio:.3} (median of rounds), target >= {target}: {verdict}",
                handler.name()
            ));
        }
    }
    println!("\n-- exporter counters per service (exported/dropped/failed)");
    let mut counters = Table::new(&["mode", "spans", "log records", "metric points"]);
    let mut dropped = 0;
    for s in &mut servers {
        let st = s.stats()?;
        dropped += st.spans[1] + st.logs[1];
        counters.row(vec![
            s.mode.name().into(),
            ServiceStats::show(st.spans),
            ServiceStats::show(st.logs),
            ServiceStats::show(st.metrics),
        ]);
    }
    print!("{}", counters.render());
    if let Ok(r) = receiver.received() {
        println!("sink: {} export requests, {} spans, {} log records", r.requests, r.spans, r.logs);
    }
    if dropped > 0 {
        println!(
            "note: {dropped} items were dropped (queue full): the instrumented modes did less export work than a lossless pipeline would"
        );
    }
    println!();
    for v in verdicts {
        println!("{v}");
    }
    for s in servers {
        s.stop();
    }
    receiver.stop();
    Ok(())
}

/// CPU time of the load generator's thread so far.
fn load_cpu() -> Duration {
    procfs::thread_cpu_times().get("bench-load").copied().unwrap_or_default()
}

/// Per-round ratio `f(mode) / f(bare)`.
fn ratios(bare: &[Round], mode: &[Round], f: impl Fn(&Round) -> f64) -> Vec<f64> {
    bare.iter().zip(mode).map(|(b, m)| f(m) / f(b).max(1e-9)).collect()
}

fn median(rounds: &[Round], f: impl Fn(&Round) -> f64) -> f64 {
    Spread::of(&rounds.iter().map(f).collect::<Vec<_>>()).median
}

fn table(servers: &[ServerProcess], figures: &[Vec<Round>]) -> String {
    let mut t = Table::new(&[
        "mode",
        "req/s",
        "mean ms",
        "p50 ms",
        "p99 ms",
        "errors",
        "svc CPU",
        "CPU us/req",
        "req/s vs bare (min / med / max)",
        "mean vs bare",
        "CPU/req vs bare",
        "load gen CPU",
        "sink CPU",
    ]);
    let bare = &figures[0];
    for (s, f) in servers.iter().zip(figures) {
        t.row(vec![
            s.mode.name().into(),
            format!("{:.0}", median(f, |r| r.rps)),
            ms(median(f, |r| r.mean_us)),
            ms(median(f, |r| r.p50_us)),
            ms(median(f, |r| r.p99_us)),
            f.iter().map(|r| r.errors).sum::<u64>().to_string(),
            format!("{:.0}%", 100.0 * median(f, |r| r.cpu_util)),
            format!("{:.1}", median(f, |r| r.cpu_per_req_us)),
            Spread::of(&ratios(bare, f, |r| r.rps)).show(3),
            format!("{:+.1}%", 100.0 * (Spread::of(&ratios(bare, f, |r| r.mean_us)).median - 1.0)),
            format!("{:+.1}%", 100.0 * (Spread::of(&ratios(bare, f, |r| r.cpu_per_req_us)).median - 1.0)),
            format!("{:.0}%", 100.0 * median(f, |r| r.load_util)),
            format!("{:.0}%", 100.0 * median(f, |r| r.receiver_util)),
        ]);
    }
    let mut out = t.render();
    if figures.iter().any(|f| median(f, |r| r.cpu_util) < 0.9) {
        out.push_str(
            "note: the service was below 90% CPU in some mode, so something else (the load generator, the machine's \
             other load) set the pace there and its req/s ratio understates the cost; CPU us/req does not depend on \
             that\n",
        );
    }
    out
}
