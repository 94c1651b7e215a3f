//! `otelwright bench instructions`: instructions per request of the whole service process (request path and SDK
//! threads: batching, encoding and sending included), per mode, counted by valgrind's callgrind. Instruction
//! counts do not move with the machine's load, so on a shared machine they compare modes and commits where
//! req/s and CPU time cannot; they are not time (a cache miss costs more than an add).
//!
//! Each mode's service runs twice under callgrind, for `N1` and `N2` requests from the built-in load generator
//! (outside valgrind); per request = (instructions(N2) − instructions(N1)) / (N2 − N1), which cancels start-up and
//! shutdown. The services export to the counting sink, with the metric interval at one hour so no periodic
//! collection lands inside one run and not the other. The `N2` profiles are kept for `callgrind_annotate`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::loadgen::{Handler, LoadGen, Stop};
use super::receiver::ReceiverProcess;
use super::service::{Mode, ServerProcess};
use super::stats::Table;

/// Options of `otelwright bench instructions`.
#[derive(clap::Args, Debug)]
pub(crate) struct InstructionsArgs {
    /// Handlers to measure (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["hello", "realistic"])]
    handler: Vec<Handler>,
    /// Modes (comma-separated; bare is always included).
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["bare", "stock", "everything"])]
    modes: Vec<Mode>,
    /// The two request counts N1,N2 [default: 2000,6000; quick: 50,150].
    #[arg(long, value_delimiter = ',')]
    requests: Option<Vec<u64>>,
    /// Connections, each with one request in flight.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Where the callgrind profiles of the N2 runs are kept.
    #[arg(long, default_value = "target/bench-instructions")]
    out_dir: PathBuf,
    /// A few requests only (CI's smoke run); the figures mean little.
    #[arg(long)]
    quick: bool,
}

/// Runs the bench.
pub(crate) async fn run(args: InstructionsArgs) -> anyhow::Result<()> {
    let valgrind = std::process::Command::new("valgrind").arg("--version").output();
    let version = match valgrind {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => bail!("`bench instructions` needs valgrind on the PATH (e.g. `apt-get install valgrind`)"),
    };
    let [n1, n2] = match args.requests.as_deref() {
        Some(&[a, b]) if a < b => [a, b],
        Some(_) => bail!("--requests takes two counts N1,N2 with N1 < N2"),
        None if args.quick => [50, 150],
        None => [2000, 6000],
    };
    std::fs::create_dir_all(&args.out_dir).with_context(|| format!("creating {}", args.out_dir.display()))?;
    let out_dir = args.out_dir.canonicalize()?;
    println!("== otelwright bench instructions ({version})");
    println!("machine: {}", super::procfs::machine());
    println!(
        "{} connections; per request = (instructions for {n2} requests - for {n1}) / {}; every thread of the \
         service counts; one tokio worker; export to the counting sink",
        args.connections,
        n2 - n1
    );
    let mut modes = vec![Mode::Bare];
    for &m in &args.modes {
        if !modes.contains(&m) {
            modes.push(m);
        }
    }
    let mut receiver = ReceiverProcess::start(None)?;
    for &handler in &args.handler {
        let mut per_request = Vec::new();
        for &mode in &modes {
            let mut counts = [0u64; 2];
            for (i, n) in [n1, n2].into_iter().enumerate() {
                let file = out_dir.join(format!("callgrind.{}.{}.{n}.out", handler.name(), mode.name()));
                counts[i] = instructions(mode, handler, n, args.connections, &receiver.count_grpc, &file).await?;
            }
            per_request.push((mode, counts[1].saturating_sub(counts[0]) as f64 / (n2 - n1) as f64));
        }
        let bare = per_request[0].1;
        let stock = per_request.iter().find(|(m, _)| *m == Mode::Stock).map(|(_, i)| i - bare);
        let mut t = Table::new(&["mode", "instructions/request", "added over bare", "added vs stock"]);
        for &(mode, i) in &per_request {
            t.row(vec![
                mode.name().into(),
                format!("{i:.0}"),
                format!("{:+.0}", i - bare),
                stock.filter(|s| *s > 0.0).map_or(String::new(), |s| format!("{:.2}x", (i - bare) / s)),
            ]);
        }
        println!("\n-- {} handler ({})", handler.name(), handler.route());
        print!("{}", t.render());
    }
    println!(
        "\nprofiles: {}/callgrind.<handler>.<mode>.{n2}.out (callgrind_annotate --inclusive=yes <file> | head -60)",
        out_dir.display()
    );
    if let Ok(r) = receiver.received() {
        println!("sink: {} export requests, {} spans, {} log records", r.requests, r.spans, r.logs);
    }
    receiver.stop();
    Ok(())
}

/// Runs `mode`'s service under callgrind for `n` requests and returns the instructions it executed.
async fn instructions(
    mode: Mode,
    handler: Handler,
    n: u64,
    connections: usize,
    endpoint: &str,
    file: &Path,
) -> anyhow::Result<u64> {
    let _ = std::fs::remove_file(file);
    let wrapper =
        ["valgrind".to_owned(), "--tool=callgrind".to_owned(), format!("--callgrind-out-file={}", file.display())];
    let env = [("TOKIO_WORKER_THREADS", "1".to_owned())];
    let server = ServerProcess::start_wrapped(mode, endpoint, Duration::from_secs(3600), None, &wrapper, &env)?;
    let mut load = LoadGen::connect(server.addr, connections).await?;
    let result = load.run(handler, Stop::Requests(n), None).await;
    drop(load);
    server.stop_within(Duration::from_secs(120));
    if result.errors > 0 || result.ok != n {
        bail!("{} {}: {} of {n} requests answered, {} errors", mode.name(), handler.name(), result.ok, result.errors);
    }
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    total(&text).with_context(|| format!("no `summary:` or `totals:` line in {}", file.display()))
}

/// The total of the first event (instructions) in a callgrind output file.
fn total(text: &str) -> Option<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("summary:").or_else(|| l.strip_prefix("totals:")))
        .find_map(|rest| rest.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn totals_are_read_from_callgrind_output() {
        let text =
            "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nfn=main\n3 10\nsummary: 123456\ntotals: 123456\n";
        assert_eq!(super::total(text), Some(123_456));
        assert_eq!(super::total("events: Ir\n"), None);
    }
}
