//! `otelwright monitor`: polls a service's JSON metrics snapshot (otelwright-health's `GET /api/v1/metrics`)
//! every `--interval`, prints a live table (`Time | CPU% | Mem% | Mem(MB) | API(ms) | DB Pool | Cache Hit% |
//! Status`), appends every row to a CSV file, and keeps going while the service is down (the row's status says
//! why). Ctrl-C, `--samples` or `--duration` ends it with a summary: averages, peaks and the p95 of the API time.
//!
//! API(ms) is the time the snapshot took to answer, measured here; the CSV also carries the p95 of the
//! service's own requests over its window (`requests_p95_ms`), as its histogram reports it.

mod sample;
mod summary;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use time::OffsetDateTime;

use self::sample::{CSV_HEADER, Sample, TABLE_HEADER};

/// Options of `otelwright monitor`.
#[derive(clap::Args)]
pub(crate) struct MonitorArgs {
    /// The JSON snapshot to poll.
    #[arg(long, default_value = "http://localhost:8000/api/v1/metrics")]
    url: String,
    /// Time between polls: seconds (5, 0.5) or a duration (500ms, 1m).
    #[arg(long, default_value = "5", value_parser = crate::parse_duration)]
    interval: Duration,
    /// CSV file every row is appended to (the header is written when the file is new or empty).
    #[arg(long, default_value = "metrics.csv")]
    output: PathBuf,
    /// Bearer token for the endpoint (when the service sets OTELWRIGHT_METRICS_TOKEN).
    #[arg(long)]
    token: Option<String>,
    /// Stop after this many rows.
    #[arg(long)]
    samples: Option<u64>,
    /// Stop after this long (e.g. 10m).
    #[arg(long, value_parser = crate::parse_duration)]
    duration: Option<Duration>,
}

pub(crate) async fn run(args: MonitorArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!args.interval.is_zero(), "--interval must be more than 0");
    // A poll never takes longer than the interval (at least 1 s, at most 10 s).
    let timeout = args.interval.clamp(Duration::from_secs(1), Duration::from_secs(10));
    let client = reqwest::Client::builder().timeout(timeout).build()?;
    let mut csv = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args.output)
        .with_context(|| format!("opening {}", args.output.display()))?;
    if csv.metadata()?.len() == 0 {
        writeln!(csv, "{CSV_HEADER}")?;
    }
    println!(
        "otelwright monitor: polling {} every {:?}; rows go to {}",
        args.url,
        args.interval,
        args.output.display()
    );
    println!("{TABLE_HEADER}");

    let started = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let work = async {
        let mut tick = tokio::time::interval(args.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let sample = poll(&client, &args.url, args.token.as_deref(), timeout).await;
            println!("{}", sample.table_row());
            writeln!(csv, "{}", sample.csv_row())?;
            csv.flush()?;
            samples.push(sample);
            if args.samples.is_some_and(|n| samples.len() as u64 >= n) {
                return Ok::<(), std::io::Error>(());
            }
        }
    };
    let deadline = async {
        match args.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let written = tokio::select! {
        result = work => result,
        _ = deadline => Ok(()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    print!("{}", summary::render(&samples, started.elapsed().as_secs_f64()));
    written.with_context(|| format!("writing {}", args.output.display()))
}

/// One poll: a row from the snapshot, or a row whose status is the error.
async fn poll(client: &reqwest::Client, url: &str, token: Option<&str>, timeout: Duration) -> Sample {
    let now = OffsetDateTime::now_utc();
    let start = Instant::now();
    let mut request = client.get(url);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let elapsed_ms = || start.elapsed().as_secs_f64() * 1000.0;
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Sample::failed(now, None, format!("timed out after {timeout:?}")),
        Err(e) => return Sample::failed(now, None, format!("unreachable: {}", root_cause(&e))),
    };
    let status = response.status();
    let body = response.bytes().await;
    let api_ms = elapsed_ms();
    if !status.is_success() {
        return Sample::failed(now, Some(api_ms), format!("HTTP {status}"));
    }
    match body.map_err(|e| root_cause(&e)).and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string())) {
        Ok(doc) => Sample::from_snapshot(now, api_ms, &doc),
        Err(e) => Sample::failed(now, Some(api_ms), format!("bad snapshot: {e}")),
    }
}

/// The innermost error's message ("Connection refused (os error 111)" rather than reqwest's wrapper).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}
