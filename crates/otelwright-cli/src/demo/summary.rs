//! The plain-text summary `otelwright demo` prints at the end (and instead of the live view with `--no-tui`):
//! totals per service, a few trace waterfalls (a failing one, the slowest, one across both services), RED per
//! route, the gauges, the latest log lines, and the checks that make a run count as a success.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::bail;

use super::collect::Collected;
use super::load::LoadCounts;
use super::report;

/// The services the demo runs; a successful run has spans from each.
pub(crate) const SERVICES: [&str; 2] = ["health-agent", "recommender"];

/// The summary text.
pub(crate) fn render(c: &Collected, load: LoadCounts, elapsed: Duration, traces: usize) -> String {
    let t = &c.totals;
    let mut out = String::new();
    let by_service: Vec<String> = t.spans_by_service.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let _ = writeln!(out, "\n== {:.1} s: sent {load} ==", elapsed.as_secs_f64());
    let _ = writeln!(
        out,
        "== received: {} spans ({}) in {} traces, {} across services; {} log records; {} metric exports ==",
        t.spans,
        by_service.join(", "),
        t.traces,
        t.cross_service_traces,
        t.logs,
        t.metric_exports
    );

    let picks = c.highlights(traces);
    let _ = writeln!(out, "\n-- traces (showing {} of {}) --", picks.len(), t.traces);
    for (label, trace) in picks {
        let _ = writeln!(out, "[{label}] {}", report::waterfall(&trace.refs(), 24));
    }

    let metrics = c.metrics();
    let rates = c.rates();
    let _ = writeln!(out, "-- RED per route (http.server.request.duration, rpc.server.call.duration) --");
    let _ = writeln!(
        out,
        "  {:<13} {:<38} {:>7} {:>6} {:>7} {:>10} {:>10} {:>10}",
        "service", "route", "rate/s", "count", "errors", "p50", "p95", "p99"
    );
    for (key, r) in report::red(&metrics) {
        let rate = rates.get(&key).copied().unwrap_or(0.0);
        let _ = writeln!(
            out,
            "  {:<13} {:<38} {rate:>7.1} {:>6} {:>7} {:>7.1} ms {:>7.1} ms {:>7.1} ms",
            key.0, key.1, r.count, r.errors, r.p50_ms, r.p95_ms, r.p99_ms
        );
    }

    let _ = writeln!(out, "\n-- resources, pools, caches, functions (health-agent) --");
    for (label, value) in report::gauges(&metrics) {
        let _ = writeln!(out, "  {label:<24} {value}");
    }

    let _ = writeln!(out, "\n-- latest log records --");
    let skip = c.logs.len().saturating_sub(8);
    for l in c.logs.iter().skip(skip) {
        let _ = writeln!(out, "  {}", report::log_line(l));
    }
    let _ = writeln!(out, "\n{} of {} log records carry a trace id.", t.logs_with_trace_id, t.logs);
    out
}

/// Fails unless every signal arrived: spans from both services in at least one shared trace, log records with
/// trace ids, and request metrics with non-zero counts.
pub(crate) fn check(c: &Collected) -> anyhow::Result<()> {
    let t = &c.totals;
    let missing: Vec<&str> =
        SERVICES.iter().copied().filter(|s| t.spans_by_service.get(*s).copied().unwrap_or(0) == 0).collect();
    if !missing.is_empty() {
        bail!("no spans from {}", missing.join(", "));
    }
    if t.cross_service_traces == 0 {
        bail!("no trace spans both services");
    }
    if t.logs_with_trace_id == 0 {
        bail!("no log record carries a trace id ({} log records)", t.logs);
    }
    let requests: u64 = report::red(&c.metrics()).values().map(|r| r.count).sum();
    if requests == 0 {
        bail!("no request metrics arrived ({} metric exports)", t.metric_exports);
    }
    Ok(())
}
