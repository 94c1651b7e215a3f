//! The harness behind `otelwright bench`: what the SDK costs a service, measured so anyone can rerun it on their
//! own machine. The `otelwright` binary parses `bench …` into [`BenchArgs`] and hands it to [`run`]; this crate is
//! not published and the figures are never asserted (see BENCHMARKS.md).
//!
//! - `overhead`: req/s, latency and CPU per request of one service in several modes (bare, metrics, traces,
//!   everything, and stock: the OpenTelemetry crates without otelwright), each in its own process, driven by the
//!   built-in load generator with the modes interleaved round by round.
//! - `export`: spans, log records and metric points per second the SDK exports over OTLP gRPC and HTTP, with no
//!   drops at the default queue sizes, the CPU it spends per item, and the span rate as a multiple of the
//!   instrumented hello-world service's.
//! - `collect`: one metric collection cycle with resources, pools and caches, through the whole SDK pipeline;
//!   and the memory the SDK adds to a service after 100k requests.
//! - `memory`: resident memory before and after 200k requests with the collector refusing or not answering.
//! - `soak`: a long run with the collector going up and down: latency, RSS and exporter counters over time.
//! - `instructions`: instructions per request of the whole service per mode, counted by callgrind: the comparison
//!   a shared machine's load cannot move.
//!
//! Every bench has `--quick` (a few seconds; CI runs it) and prints the machine, the build and the CPU placement
//! with its figures. The collector is always another process: this binary in the hidden `bench receiver` mode;
//! the services are `bench serve` processes. Both re-execute the running binary (`std::env::current_exe()`), so the
//! binary that calls [`run`] must route `bench …` here: the `otelwright` command does.

mod affinity;
mod app;
mod child;
mod collect;
mod export;
mod instructions;
mod itemsize;
mod loadgen;
mod memory;
mod overhead;
mod procfs;
mod receiver;
mod service;
mod sink;
mod soak;
mod stats;
mod stock;

use std::future::Future;
use std::time::Duration;

use anyhow::anyhow;

/// Options of `otelwright bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(clap::Subcommand, Debug)]
enum BenchCommand {
    /// Request overhead: req/s and p50/p99 latency per instrumentation mode, and each mode's ratio to bare.
    Overhead(overhead::OverheadArgs),
    /// Export throughput over OTLP gRPC and HTTP at the default queue sizes, CPU per item, and the multiple of the
    /// instrumented hello-world service's span rate.
    Export(export::ExportArgs),
    /// Cost of one metric collection cycle (resources, pools, caches) and the RSS the SDK adds to a service.
    Collect(collect::CollectArgs),
    /// Resident memory before and after many requests while the collector is unreachable.
    Memory(memory::MemoryArgs),
    /// A long run with the collector toggling up and down: latency, RSS and exporter counters over time.
    Soak(soak::SoakArgs),
    /// Instructions per request of the whole service per mode, counted by callgrind (needs valgrind).
    Instructions(instructions::InstructionsArgs),
    /// The service under test (helper process).
    #[command(hide = true)]
    Serve(service::ServeArgs),
    /// The OTLP receiver standing for the collector (helper process).
    #[command(hide = true)]
    Receiver(receiver::ReceiverArgs),
}

/// Runs a bench subcommand, or one of the hidden helper processes (`serve`, `receiver`) a bench starts.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Overhead(a) => overhead::run(a).await,
        BenchCommand::Export(a) => export::run(a).await,
        BenchCommand::Collect(a) => collect::run(a).await,
        BenchCommand::Memory(a) => memory::run(a).await,
        BenchCommand::Soak(a) => soak::run(a).await,
        BenchCommand::Instructions(a) => instructions::run(a).await,
        BenchCommand::Serve(a) => service::run(a).await,
        BenchCommand::Receiver(a) => receiver::run(a).await,
    }
}

/// Parses a duration flag: `10s`, `500ms`, `2m`, or plain seconds (`3`, `0.5`). Every `otelwright` command's
/// duration flags take this syntax.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len()));
    let n: f64 = num.parse().map_err(|_| format!("{s:?} is not a duration like 10s, 500ms or 2m"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit {unit:?} in {s:?}: use ms, s or m")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

/// Runs `f` on a dedicated thread, pinned to `cpu` when given, in a current-thread runtime: the load generator
/// and the orchestration of a bench live there, away from the core of the process under test.
pub(crate) async fn on_thread<F, Fut, T>(cpu: Option<usize>, f: F) -> anyhow::Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<T>>,
    T: Send + 'static,
{
    let thread = std::thread::Builder::new().name("bench-load".into()).spawn(move || {
        if let Some(cpu) = cpu {
            affinity::pin_current_thread(cpu).map_err(anyhow::Error::msg)?;
        }
        tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(f())
    })?;
    tokio::task::spawn_blocking(move || thread.join()).await?.map_err(|_| anyhow!("the bench thread panicked"))?
}

/// The flags every bench that starts processes has.
#[derive(clap::Args, Clone, Copy, Debug)]
pub(crate) struct RunFlags {
    /// Do not pin the process under test and the load generator (or receiver) to separate cores.
    #[arg(long)]
    pub(crate) no_pin: bool,
    /// A few seconds in all (CI's smoke run); the figures mean nothing.
    #[arg(long)]
    pub(crate) quick: bool,
}

impl RunFlags {
    /// Plans the CPU placement and prints `bench`'s header.
    pub(crate) fn start(&self, bench: &str) -> affinity::Placement {
        let placement = affinity::Placement::plan(self.no_pin);
        header(bench, &placement);
        placement
    }
}

/// Prints the header every bench starts with: what runs, when, on what, and where.
pub(crate) fn header(bench: &str, placement: &affinity::Placement) {
    print!("{}", header_text(bench, placement));
}

/// The header's text.
pub(crate) fn header_text(bench: &str, placement: &affinity::Placement) -> String {
    let now = time::OffsetDateTime::now_utc();
    let date = format!(
        "{}-{:02}-{:02} {:02}:{:02} UTC",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute()
    );
    format!("== otelwright bench {bench} ({date})\nmachine: {}\nplacement: {}\n", procfs::machine(), placement.note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5h").is_err());
    }
}
