//! `otelwright bench serve` (hidden): the service under test, one process per instrumentation mode, so each mode
//! has its own global subscriber and providers exactly as a real service would. [`ServerProcess`] is the
//! benches' side of it; the routes and handlers are in [`super::app`].
//!
//! Modes: `bare` (no SDK at all), `metrics` (HTTP metrics + resource/pool/cache meters), `traces` (server span
//! per request, 100 % sampled), `everything` (both, plus a log line per request exported as an OTLP log record)
//! and `stock` (the same signals without otelwright: the OpenTelemetry projects' own crates, see [`super::stock`]).
//! Telemetry goes over OTLP/gRPC to the endpoint given, with default queue sizes.
//!
//! Commands on stdin: `stats` (answers `stats {json}` with the exporter counters and RSS); closing stdin shuts
//! the telemetry down and exits.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use otelwright::{Config, LogFormat, Protocol, Sampler, Signal};
use serde::{Deserialize, Serialize};

use super::affinity::Placement;
use super::child::{self, Child};

/// What a service process instruments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// No SDK.
    Bare,
    /// Metrics only (HTTP server metrics, resources, pool, cache).
    Metrics,
    /// Traces only (100 % sampled).
    Traces,
    /// Traces + metrics + a log line per request.
    Everything,
    /// Traces + HTTP metrics + a log line per request, without otelwright: the peer (see `bench/stock.rs`).
    Stock,
}

impl Mode {
    /// The name used in reports and on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Bare => "bare",
            Mode::Metrics => "metrics",
            Mode::Traces => "traces",
            Mode::Everything => "everything",
            Mode::Stock => "stock",
        }
    }

    /// Whether otelwright exports spans in this mode.
    pub(crate) fn traces(self) -> bool {
        matches!(self, Mode::Traces | Mode::Everything)
    }

    /// Whether otelwright exports metrics (and the meters are on) in this mode.
    pub(crate) fn metrics(self) -> bool {
        matches!(self, Mode::Metrics | Mode::Everything)
    }

    fn logs(self) -> bool {
        self == Mode::Everything
    }
}

/// Options of the hidden `bench serve` mode.
#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    /// What to instrument.
    #[arg(long, value_enum)]
    mode: Mode,
    /// OTLP/gRPC endpoint of the collector.
    #[arg(long, default_value = "http://127.0.0.1:4317")]
    endpoint: String,
    /// Metric export interval.
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    metric_interval: Duration,
    /// Pin the process to this CPU.
    #[arg(long)]
    cpu: Option<usize>,
}

/// What a service process reports on `stats`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ServiceStats {
    /// Spans exported, dropped, failed.
    pub(crate) spans: [u64; 3],
    /// Log records exported, dropped, failed.
    pub(crate) logs: [u64; 3],
    /// Metric points exported, dropped, failed.
    pub(crate) metrics: [u64; 3],
    /// CPU seconds so far per thread name.
    #[serde(default)]
    pub(crate) threads: BTreeMap<String, f64>,
}

impl ServiceStats {
    fn of(pipeline: &Pipeline) -> ServiceStats {
        let threads = super::procfs::thread_cpu_times().into_iter().map(|(k, v)| (k, v.as_secs_f64())).collect();
        match pipeline {
            Pipeline::None => ServiceStats { threads, ..ServiceStats::default() },
            Pipeline::Otelwright(t) => {
                let s = t.export_stats();
                let c = |c: otelwright::SignalCounts| [c.exported, c.dropped, c.failed];
                ServiceStats { spans: c(s.traces), logs: c(s.logs), metrics: c(s.metrics), threads }
            }
            Pipeline::Stock(stock) => {
                let (spans, logs) = stock.counts();
                ServiceStats { spans, logs, threads, ..ServiceStats::default() }
            }
        }
    }

    /// CPU seconds since `before`, split into (request path: the tokio workers; SDK background threads: batch
    /// processors, periodic reader, export runtime, resource sampler; everything else).
    pub(crate) fn cpu_split(&self, before: &ServiceStats) -> (f64, f64, f64) {
        let (mut request, mut sdk, mut other) = (0.0, 0.0, 0.0);
        for (name, secs) in &self.threads {
            let d = secs - before.threads.get(name).copied().unwrap_or(0.0);
            // Linux keeps 15 characters of a thread name: "tokio-rt-worker", "OpenTelemetry.T"/".L"/".M" (the
            // SDK's batch processors and periodic reader), "otelwright-expo" (export runtime), "otelwright-reso"
            // (resource sampler).
            if name.starts_with("tokio-r") {
                request += d;
            } else if name.starts_with("OpenTelemetry")
                || name.starts_with("otelwright-expo")
                || name.starts_with("otelwright-reso")
            {
                sdk += d;
            } else {
                other += d;
            }
        }
        (request, sdk, other)
    }

    /// `exported/dropped/failed` of one signal's counts.
    pub(crate) fn show(counts: [u64; 3]) -> String {
        format!("{}/{}/{}", counts[0], counts[1], counts[2])
    }
}

/// The otelwright configuration of a mode: default queues and batch sizes, 100 % sampling, nothing on stdout.
pub(crate) fn config(mode: Mode, endpoint: &str, metric_interval: Duration) -> Config {
    let on = |yes: bool| if yes { vec![otelwright::Exporter::Otlp] } else { Vec::new() };
    Config::default()
        .service_name("otelwright-bench")
        .service_version(env!("CARGO_PKG_VERSION"))
        .protocol(Protocol::Grpc)
        .otlp_endpoint(endpoint)
        .sampler(Sampler::AlwaysOn)
        .log_format(LogFormat::Off)
        .metric_interval(metric_interval)
        .shutdown_timeout(Duration::from_secs(3))
        .exporters(Signal::Traces, on(mode.traces()))
        .exporters(Signal::Metrics, on(mode.metrics()))
        .exporters(Signal::Logs, on(mode.logs()))
}

/// What a service process exports with.
pub(crate) enum Pipeline {
    /// Nothing (`bare`).
    None,
    /// otelwright (boxed: the handle is large, and there is one per process).
    Otelwright(Box<otelwright::Telemetry>),
    /// The stock OpenTelemetry crates.
    Stock(super::stock::Stock),
}

/// Runs the hidden mode until stdin closes.
pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    if let Some(cpu) = args.cpu {
        super::affinity::pin_process(cpu).map_err(anyhow::Error::msg)?;
    }
    let pipeline = match args.mode {
        Mode::Bare => Pipeline::None,
        Mode::Stock => Pipeline::Stock(super::stock::Stock::init(&args.endpoint, args.metric_interval)?),
        mode => Pipeline::Otelwright(Box::new(
            otelwright::init(config(mode, &args.endpoint, args.metric_interval)).context("telemetry")?,
        )),
    };
    let app = super::app::build(args.mode, &pipeline).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    child::say(&format!("ready {}", listener.local_addr()?));
    let mut commands = child::stdin_commands();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app.router).with_graceful_shutdown(async move { drop(stop_rx.await) }).await
    });
    while let Some(command) = commands.recv().await {
        match command.as_str() {
            "stats" => child::say(&format!("stats {}", serde_json::to_string(&ServiceStats::of(&pipeline))?)),
            other => child::say(&format!("error unknown command {other:?}")),
        }
    }
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(3), server).await;
    match pipeline {
        Pipeline::None => {}
        Pipeline::Otelwright(t) => drop(t.shutdown().await),
        // The SDK's processors block while they flush through tonic, whose connection runs on this runtime's
        // (single) worker: shut down from a blocking thread.
        Pipeline::Stock(stock) => drop(tokio::task::spawn_blocking(move || stock.shutdown()).await),
    }
    drop(app.keep);
    Ok(())
}

/// The benches' handle on a service process.
pub(crate) struct ServerProcess {
    child: Child,
    /// The instrumentation mode.
    pub(crate) mode: Mode,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
}

impl ServerProcess {
    /// Starts a service process in `mode`, exporting to `endpoint`, pinned to `cpu` when given.
    pub(crate) fn start(
        mode: Mode,
        endpoint: &str,
        metric_interval: Duration,
        cpu: Option<usize>,
    ) -> anyhow::Result<ServerProcess> {
        ServerProcess::start_wrapped(mode, endpoint, metric_interval, cpu, &[], &Placement::child_env(cpu))
    }

    /// As [`ServerProcess::start`], under `wrapper` (e.g. valgrind) and with this environment.
    pub(crate) fn start_wrapped(
        mode: Mode,
        endpoint: &str,
        metric_interval: Duration,
        cpu: Option<usize>,
        wrapper: &[String],
        env: &[(&str, String)],
    ) -> anyhow::Result<ServerProcess> {
        let mut args: Vec<String> = ["serve", "--mode", mode.name(), "--endpoint", endpoint, "--metric-interval"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        args.push(format!("{}ms", metric_interval.as_millis()));
        if let Some(cpu) = cpu {
            args.extend(["--cpu".to_owned(), cpu.to_string()]);
        }
        let (child, ready) = Child::spawn_wrapped(mode.name(), wrapper, &args, env)?;
        let addr = ready.parse().with_context(|| format!("address of the {} service: {ready:?}", mode.name()))?;
        Ok(ServerProcess { child, mode, addr })
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Its exporter counters.
    pub(crate) fn stats(&mut self) -> anyhow::Result<ServiceStats> {
        self.child.stats()
    }

    /// Its resident memory in bytes.
    pub(crate) fn rss(&self) -> Option<u64> {
        super::procfs::rss_bytes(self.pid())
    }

    /// Its CPU time so far.
    pub(crate) fn cpu(&self) -> Option<Duration> {
        super::procfs::cpu_time(self.pid())
    }

    /// Stops the process (its telemetry shuts down within 3 s).
    pub(crate) fn stop(self) {
        self.stop_within(Duration::from_secs(8));
    }

    /// Stops the process, killing it if it has not exited within `timeout`.
    pub(crate) fn stop_within(self, timeout: Duration) {
        self.child.stop(timeout);
    }
}
