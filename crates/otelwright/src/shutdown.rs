//! Shutting down within one deadline. The SDK's `shutdown` calls block (and the meter provider ignores its
//! timeout), so they run on a dedicated thread in spec order (traces, logs, metrics) while the caller waits on a
//! channel with the deadline: on a multi-thread runtime, a current_thread runtime or no runtime at all the caller
//! gets control back in time even when the collector never answers. The export runtime is shut down last, on the
//! same thread, so it is never dropped inside an async context.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::pipeline::Providers;

/// What happened during shutdown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Time from the call to its return.
    pub elapsed: Duration,
    /// True when the deadline passed before every provider had shut down; what was still queued may be lost.
    pub timed_out: bool,
    /// Errors the providers reported (for example an export that failed because the collector is down).
    pub errors: Vec<String>,
}

impl ShutdownReport {
    /// True when everything shut down within the deadline without errors.
    pub fn is_clean(&self) -> bool {
        !self.timed_out && self.errors.is_empty()
    }
}

/// Runs on the shutdown thread.
fn run(providers: Providers, deadline: Duration) -> Vec<String> {
    let start = Instant::now();
    let remaining = || deadline.saturating_sub(start.elapsed());
    let mut errors = Vec::new();
    let mut note = |signal: &str, result: opentelemetry_sdk::error::OTelSdkResult| {
        if let Err(e) = result {
            errors.push(format!("{signal}: {e}"));
        }
    };
    let Providers { tracer, meter, logger, runtime, .. } = providers;
    if let Some(p) = tracer {
        note("traces", p.shutdown_with_timeout(remaining()));
    }
    if let Some(p) = logger {
        note("logs", p.shutdown_with_timeout(remaining()));
    }
    if let Some(p) = meter {
        note("metrics", p.shutdown_with_timeout(remaining()));
    }
    if let Some(rt) = runtime {
        rt.shutdown_timeout(remaining());
    }
    errors
}

/// Starts the shutdown thread; the result arrives on the returned channel.
fn spawn(providers: Providers, deadline: Duration) -> mpsc::Receiver<Vec<String>> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new().name("otelwright-shutdown".into()).spawn(move || {
        let _ = tx.send(run(providers, deadline));
    });
    if let Err(e) = spawned {
        // No thread: nothing will ever arrive on `rx`, so report it as the only outcome.
        let (tx, rx) = mpsc::channel();
        let _ = tx.send(vec![format!("could not start the shutdown thread: {e}")]);
        return rx;
    }
    rx
}

fn report(start: Instant, outcome: Option<Vec<String>>) -> ShutdownReport {
    match outcome {
        Some(errors) => ShutdownReport { elapsed: start.elapsed(), timed_out: false, errors },
        None => ShutdownReport { elapsed: start.elapsed(), timed_out: true, errors: Vec::new() },
    }
}

/// Shuts down, blocking the calling thread for at most `deadline`.
pub(crate) fn blocking(providers: Providers, deadline: Duration) -> ShutdownReport {
    let start = Instant::now();
    let rx = spawn(providers, deadline);
    report(start, rx.recv_timeout(deadline).ok())
}

/// Shuts down without blocking the caller's executor: the wait for the result happens on a helper thread that
/// completes a oneshot, so this works on any runtime flavour and needs no Tokio timer.
pub(crate) async fn non_blocking(providers: Providers, deadline: Duration) -> ShutdownReport {
    let start = Instant::now();
    let rx = spawn(providers, deadline);
    let (tx, done) = tokio::sync::oneshot::channel();
    let waiter = std::thread::Builder::new().name("otelwright-shutdown-wait".into()).spawn(move || {
        let _ = tx.send(rx.recv_timeout(deadline).ok());
    });
    if waiter.is_err() {
        return report(start, None);
    }
    report(start, done.await.ok().flatten())
}
