//! The `otelwright` command. `otelwright demo` starts an OTLP receiver and the two example services in-process,
//! drives load at them and shows what arrived: trace waterfalls, RED metrics, gauges and log lines with their
//! trace ids. `otelwright monitor` polls a service's JSON metrics snapshot into a table and a CSV file.
//! `otelwright bench` measures what the SDK costs a service (see BENCHMARKS.md): a thin entry into the
//! unpublished `otelwright-bench` crate, which re-executes this binary for its `bench serve` and `bench receiver`
//! helper processes.

mod demo;
mod monitor;

use clap::{Parser, Subcommand};
use otelwright_bench::parse_duration;

/// otelwright: OpenTelemetry for Rust services.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the embedded default: an in-process OTLP receiver, the health-agent and recommender examples exporting
    /// to it under a mix of good, slow, failing and invalid requests, and a live view (or, with --no-tui, a plain
    /// summary) of the traces, metrics and logs received. With OTEL_EXPORTER_OTLP_ENDPOINT set, export there.
    Demo(demo::DemoArgs),
    /// Poll a service's JSON metrics snapshot (/api/v1/metrics): a live table, every row to CSV, a summary on exit.
    Monitor(monitor::MonitorArgs),
    /// Measure what the SDK costs: request overhead, export throughput, collection cost, memory, and a soak run
    /// with the collector going up and down. Build with `--release` for real figures.
    Bench(otelwright_bench::BenchArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Demo(args) => demo::run(args).await,
        Command::Monitor(args) => monitor::run(args).await,
        Command::Bench(args) => otelwright_bench::run(args).await,
    }
}
