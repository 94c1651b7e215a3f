//! `otelwright bench receiver` (hidden): an `otelwright-receiver` in its own process, standing for the collector.
//! It tallies and then forgets what arrives every 100 ms (the store would otherwise grow without end), switches
//! fault modes on command, and stops when stdin closes. Beside it, on two more ports, the counting sink
//! ([`super::sink`], OTLP/gRPC and OTLP/HTTP) that only counts the items of each request.
//!
//! Commands: `fault none|refuse|blackhole` (blackhole: accept, never answer within the exporter's timeout),
//! `stats` (answers `stats {json}`). [`ReceiverProcess`] is the benches' side of it.

use std::time::Duration;

use anyhow::Context;
use otelwright_receiver::{Fault, Receiver, ReceiverConfig, Signal};
use serde::{Deserialize, Serialize};

use super::child::{self, Child};

/// Options of the hidden `bench receiver` mode.
#[derive(clap::Args, Debug)]
pub(crate) struct ReceiverArgs {
    /// Pin the process to this CPU.
    #[arg(long)]
    cpu: Option<usize>,
}

/// What the receiver has seen: export requests and items per signal (metrics count metrics, not points).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Received {
    /// Export requests accepted.
    pub(crate) requests: u64,
    /// Spans.
    pub(crate) spans: u64,
    /// Log records.
    pub(crate) logs: u64,
    /// Metrics.
    pub(crate) metrics: u64,
}

/// Runs the hidden mode until stdin closes.
pub(crate) async fn run(args: ReceiverArgs) -> anyhow::Result<()> {
    if let Some(cpu) = args.cpu {
        super::affinity::pin_process(cpu).map_err(anyhow::Error::msg)?;
    }
    let receiver = Receiver::start_with(ReceiverConfig::localhost(0, 0)).await.context("starting the receiver")?;
    let (count, sunk) = super::sink::start().await.context("starting the counting sink")?;
    child::say(&format!(
        "ready {} {} {} {}",
        receiver.grpc_endpoint(),
        receiver.http_endpoint(),
        count.grpc,
        count.http
    ));
    let mut commands = child::stdin_commands();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut seen = Received::default();
    loop {
        tokio::select! {
            _ = tick.tick() => drain(&receiver, &mut seen),
            command = commands.recv() => match command.as_deref() {
                None => break,
                Some("stats") => {
                    drain(&receiver, &mut seen);
                    let s = sunk.received();
                    let all = Received {
                        requests: seen.requests + s.requests,
                        spans: seen.spans + s.spans,
                        logs: seen.logs + s.logs,
                        metrics: seen.metrics + s.metrics,
                    };
                    child::say(&format!("stats {}", serde_json::to_string(&all)?));
                }
                Some(fault) if fault.starts_with("fault ") => {
                    receiver.set_fault(match &fault[6..] {
                        "refuse" => Fault::Refuse,
                        "blackhole" => Fault::Delay(Duration::from_secs(3600)),
                        _ => Fault::None,
                    });
                    child::say("ok");
                }
                Some(other) => child::say(&format!("error unknown command {other:?}")),
            },
        }
    }
    receiver.set_fault(Fault::None);
    let _ = tokio::time::timeout(Duration::from_secs(3), receiver.shutdown()).await;
    Ok(())
}

/// Adds what arrived since the last drain to `seen`, then forgets it.
fn drain(receiver: &Receiver, seen: &mut Received) {
    for r in receiver.drain().requests {
        seen.requests += 1;
        let items = r.items as u64;
        match r.signal {
            Signal::Traces => seen.spans += items,
            Signal::Logs => seen.logs += items,
            Signal::Metrics => seen.metrics += items,
        }
    }
}

/// The benches' handle on a receiver process.
pub(crate) struct ReceiverProcess {
    child: Child,
    /// The OTLP/gRPC endpoint.
    pub(crate) grpc: String,
    /// The OTLP/HTTP base endpoint.
    pub(crate) http: String,
    /// The counting sink's OTLP/gRPC endpoint.
    pub(crate) count_grpc: String,
    /// The counting sink's OTLP/HTTP base endpoint.
    pub(crate) count_http: String,
}

impl ReceiverProcess {
    /// Starts a receiver process, pinned to `cpu` when given.
    pub(crate) fn start(cpu: Option<usize>) -> anyhow::Result<ReceiverProcess> {
        let mut args = vec!["receiver".to_owned()];
        if let Some(cpu) = cpu {
            args.extend(["--cpu".to_owned(), cpu.to_string()]);
        }
        let (child, ready) = Child::spawn("receiver", &args, &super::affinity::Placement::child_env(cpu))?;
        let mut parts = ready.split_whitespace();
        let grpc = parts.next().unwrap_or_default().to_owned();
        let http = parts.next().unwrap_or_default().to_owned();
        let count_grpc = parts.next().unwrap_or_default().to_owned();
        let count_http = parts.next().unwrap_or_default().to_owned();
        Ok(ReceiverProcess { child, grpc, http, count_grpc, count_http })
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Switches the fault mode: `none`, `refuse` or `blackhole`.
    pub(crate) fn fault(&mut self, mode: &str) -> anyhow::Result<()> {
        self.child.ask(&format!("fault {mode}"), "ok").map(|_| ())
    }

    /// What arrived so far.
    pub(crate) fn received(&mut self) -> anyhow::Result<Received> {
        self.child.stats()
    }

    /// Stops the process.
    pub(crate) fn stop(self) {
        self.child.stop(Duration::from_secs(5));
    }
}
