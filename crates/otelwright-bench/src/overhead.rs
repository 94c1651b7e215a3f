//! `otelwright bench overhead`: the same service in each mode (one process per mode, all started up front),
//! driven by the built-in load generator at a fixed concurrency, modes interleaved A B C D, A B C D ... for
//! several rounds so that a change in the machine's load hits every mode alike. Per mode: median req/s, latency
//! (mean, p50, p99), the service's CPU per request and CPU use, the per-round ratio to bare as
//! min / median / max, the CPU per request each mode adds over bare, and that added CPU as a multiple of what the
//! `stock` mode (the OpenTelemetry crates without otelwright) adds in the same run. Everything exports over OTLP
//! gRPC to another process: the receiver process's counting sink, which only counts the items of each request, so
//! that the receiver, which shares the load generator's core, takes as little of it as possible. The CPU the load
//! generator and the sink used is shown next to each mode: when they fill their core, the client side set the
//! pace. `--format json` prints one JSON object per handler and mode on stdout (the text report goes to stderr).

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
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["bare", "metrics", "traces", "everything", "stock"])]
    modes: Vec<Mode>,
    /// `text` (tables) or `json` (one object per handler and mode on stdout; the tables go to stderr).
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
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
    #[command(flatten)]
    run: crate::RunFlags,
}

/// How the results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Aligned tables on stdout.
    Text,
    /// One JSON object per handler and mode on stdout, one per line; the tables go to stderr.
    Json,
}

/// Writes the human-readable report: stdout, or stderr when stdout carries JSON.
#[derive(Clone, Copy)]
struct Report(Format);

impl Report {
    fn say(self, text: &str) {
        match self.0 {
            Format::Text => println!("{text}"),
            Format::Json => eprintln!("{text}"),
        }
    }
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
    let placement = Placement::plan(args.run.no_pin);
    Report(args.format).say(super::header_text("overhead", &placement).trim_end());
    super::on_thread(placement.client, move || measure(args, placement)).await
}

async fn measure(args: OverheadArgs, placement: Placement) -> anyhow::Result<()> {
    let q = args.run.quick;
    let rounds = args.rounds.unwrap_or(if q { 2 } else { 5 }).max(1);
    let round = args.round.unwrap_or(Duration::from_millis(if q { 500 } else { 3000 }));
    let warmup = args.warmup.unwrap_or(Duration::from_millis(if q { 300 } else { 2000 }));
    let concurrency = args.concurrency.unwrap_or(if q { 8 } else { 64 });
    let report = Report(args.format);
    let mut modes = vec![Mode::Bare];
    for &m in &args.modes {
        if !modes.contains(&m) {
            modes.push(m);
        }
    }
    report.say(&format!(
        "load: {concurrency} keep-alive connections per service (closed loop), {rounds} rounds x {round:?} per mode, \
         warm-up {warmup:?}; modes interleaved in each round"
    ));
    report.say(&format!(
        "services: one process per mode, default queues, 100 % sampling, OTLP gRPC to a counting sink in another \
         process, metrics every {:?}",
        args.metric_interval
    ));

    let mut receiver = ReceiverProcess::start(placement.client)?;
    let mut servers = Vec::new();
    for &mode in &modes {
        servers.push(ServerProcess::start(mode, &receiver.count_grpc, args.metric_interval, placement.server)?);
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
        let summaries = summarize(&servers, &figures);
        report.say(&format!("\n-- {} handler ({})", handler.name(), handler.route()));
        report.say(table(&summaries).trim_end());
        let mut split = Table::new(&["mode", "request path", "SDK threads", "other threads", "all"]);
        let mut threads = Vec::new();
        for (i, s) in servers.iter_mut().enumerate() {
            let (request, sdk, other) = s.stats()?.cpu_split(&before[i]);
            let requests: f64 = figures[i].iter().map(|r| r.ok as f64).sum::<f64>().max(1.0);
            let per_request = |secs: f64| secs * 1e6 / requests;
            threads.push((per_request(request), per_request(sdk)));
            let us = |secs: f64| format!("{:.1}", per_request(secs));
            split.row(vec![s.mode.name().into(), us(request), us(sdk), us(other), us(request + sdk + other)]);
        }
        report.say(
            "service CPU us per request by thread (request path = tokio workers; SDK threads = batch processors, reader, export runtime, resource sampler):",
        );
        report.say(split.render().trim_end());
        if args.format == Format::Json {
            for (summary, (request_path, sdk)) in summaries.iter().zip(threads) {
                println!("{}", summary.json(handler, concurrency, rounds, request_path, sdk));
            }
        }
        if let Some(e) = summaries.iter().find(|s| s.mode == Mode::Everything) {
            let hello = handler == Handler::Hello;
            let (ratio_target, added_target) = if hello { (0.80, 3.0) } else { (0.95, 6.0) };
            let met = |yes: bool| if yes { "met" } else { "MISSED" };
            let h = handler.name();
            verdicts.push(format!(
                "{h}: everything/bare throughput {:.3} (median of rounds), target >= {ratio_target}: {}",
                e.rps_vs_bare.median,
                met(e.rps_vs_bare.median >= ratio_target)
            ));
            verdicts.push(format!(
                "{h}: everything adds {:+.1} CPU us/request over bare, target <= +{added_target}: {}",
                e.added_cpu_us,
                met(e.added_cpu_us <= added_target)
            ));
            if let Some(x) = e.added_vs_stock {
                verdicts.push(format!(
                    "{h}: everything adds {x:.2}x the CPU stock adds, target <= 0.5x: {}",
                    met(x <= 0.5)
                ));
            }
        }
    }
    report.say("\n-- exporter counters per service (exported/dropped/failed; stock cannot count its drops)");
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
    report.say(counters.render().trim_end());
    if let Ok(r) = receiver.received() {
        report.say(&format!("sink: {} export requests, {} spans, {} log records", r.requests, r.spans, r.logs));
    }
    if dropped > 0 {
        report.say(&format!(
            "note: {dropped} items were dropped (queue full): the instrumented modes did less export work than a lossless pipeline would"
        ));
    }
    report.say("");
    for v in verdicts {
        report.say(&v);
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

/// One mode's figures for one handler: medians over rounds, and ratios and differences taken within each round.
#[derive(Clone, Debug)]
struct Summary {
    mode: Mode,
    /// Each figure's median over the rounds (`ok` and `errors` summed).
    medians: Round,
    rps_vs_bare: Spread,
    mean_vs_bare: f64,
    cpu_vs_bare: f64,
    /// CPU us per request over bare's (median of the per-round differences).
    added_cpu_us: f64,
    /// `added_cpu_us` over the stock mode's, when stock ran.
    added_vs_stock: Option<f64>,
}

fn summarize(servers: &[ServerProcess], figures: &[Vec<Round>]) -> Vec<Summary> {
    let bare = &figures[0];
    let added = |f: &[Round]| {
        let d: Vec<f64> = bare.iter().zip(f).map(|(b, m)| m.cpu_per_req_us - b.cpu_per_req_us).collect();
        Spread::of(&d).median
    };
    let stock = servers.iter().position(|s| s.mode == Mode::Stock).map(|i| added(&figures[i]));
    servers
        .iter()
        .zip(figures)
        .map(|(s, f)| {
            let added_cpu_us = added(f);
            Summary {
                mode: s.mode,
                medians: Round {
                    ok: f.iter().map(|r| r.ok).sum(),
                    rps: median(f, |r| r.rps),
                    mean_us: median(f, |r| r.mean_us),
                    p50_us: median(f, |r| r.p50_us),
                    p99_us: median(f, |r| r.p99_us),
                    errors: f.iter().map(|r| r.errors).sum(),
                    cpu_util: median(f, |r| r.cpu_util),
                    cpu_per_req_us: median(f, |r| r.cpu_per_req_us),
                    load_util: median(f, |r| r.load_util),
                    receiver_util: median(f, |r| r.receiver_util),
                },
                rps_vs_bare: Spread::of(&ratios(bare, f, |r| r.rps)),
                mean_vs_bare: Spread::of(&ratios(bare, f, |r| r.mean_us)).median,
                cpu_vs_bare: Spread::of(&ratios(bare, f, |r| r.cpu_per_req_us)).median,
                added_cpu_us,
                added_vs_stock: stock.filter(|s| *s > 0.0).map(|s| added_cpu_us / s),
            }
        })
        .collect()
}

impl Summary {
    /// The JSON object of `--format json`.
    fn json(&self, handler: Handler, concurrency: usize, rounds: usize, request_path: f64, sdk: f64) -> String {
        let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
        let mut o = serde_json::json!({
            "mode": self.mode.name(),
            "handler": handler.name(),
            "connections": concurrency,
            "rounds": rounds,
            "rps": self.medians.rps.round(),
            "rps_vs_bare": round3(self.rps_vs_bare.median),
            "rps_vs_bare_min": round3(self.rps_vs_bare.min),
            "rps_vs_bare_max": round3(self.rps_vs_bare.max),
            "cpu_us_per_req": round3(self.medians.cpu_per_req_us),
            "cpu_us_per_req_request_path": round3(request_path),
            "cpu_us_per_req_sdk_threads": round3(sdk),
            "service_cpu": round3(self.medians.cpu_util),
            "added_cpu_us_vs_bare": round3(self.added_cpu_us),
            "mean_ms": round3(self.medians.mean_us / 1000.0),
            "p50_ms": round3(self.medians.p50_us / 1000.0),
            "p99_ms": round3(self.medians.p99_us / 1000.0),
            "errors": self.medians.errors,
        });
        if let Some(x) = self.added_vs_stock {
            o["added_vs_stock"] = round3(x).into();
        }
        o.to_string()
    }
}

fn table(summaries: &[Summary]) -> String {
    let stock = summaries.iter().any(|s| s.added_vs_stock.is_some());
    let mut header = vec![
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
        "added CPU us/req",
    ];
    if stock {
        header.push("added vs stock");
    }
    header.extend(["load gen CPU", "sink CPU"]);
    let mut t = Table::new(&header);
    for s in summaries {
        let mut row = vec![
            s.mode.name().into(),
            format!("{:.0}", s.medians.rps),
            ms(s.medians.mean_us),
            ms(s.medians.p50_us),
            ms(s.medians.p99_us),
            s.medians.errors.to_string(),
            format!("{:.0}%", 100.0 * s.medians.cpu_util),
            format!("{:.1}", s.medians.cpu_per_req_us),
            s.rps_vs_bare.show(3),
            format!("{:+.1}%", 100.0 * (s.mean_vs_bare - 1.0)),
            format!("{:+.1}%", 100.0 * (s.cpu_vs_bare - 1.0)),
            format!("{:+.1}", s.added_cpu_us),
        ];
        if stock {
            row.push(s.added_vs_stock.map_or(String::new(), |x| format!("{x:.2}x")));
        }
        row.extend([
            format!("{:.0}%", 100.0 * s.medians.load_util),
            format!("{:.0}%", 100.0 * s.medians.receiver_util),
        ]);
        t.row(row);
    }
    let mut out = t.render();
    if summaries.iter().any(|s| s.medians.cpu_util < 0.9) {
        out.push_str(
            "note: the service was below 90% CPU in some mode, so something else (the load generator, the machine's \
             other load) set the pace there and its req/s ratio understates the cost; CPU us/req does not depend on \
             that\n",
        );
    }
    out
}
