//! The `otelwright` command. `otelwright demo` starts an OTLP receiver and the two example services in-process,
//! drives load at them and shows what arrived: trace waterfalls, RED metrics, gauges and log lines with their
//! trace ids. `otelwright monitor` polls a service's JSON metrics snapshot into a table and a CSV file.
//! `otelwright bench` measures what the SDK costs a service (see BENCHMARKS.md).

mod bench;
mod demo;
mod monitor;

use std::time::Duration;

use clap::{Parser, Subcommand};

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
    Bench(bench::BenchArgs),
}

fn parse_duration(s: &str) -> Result<Duration, String> {
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Demo(args) => demo::run(args).await,
        Command::Monitor(args) => monitor::run(args).await,
        Command::Bench(args) => bench::run(args).await,
    }
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
