//! What the demo keeps of what the embedded receiver received: the receiver stores everything until cleared, so
//! every refresh moves its contents here and clears it (an export that lands between the copy and the clear, a
//! window of microseconds, is lost to the view). Kept: the last [`MAX_TRACES`] traces (spans grouped by
//! trace id, whichever export carried them), the last [`MAX_LOGS`] log records, the latest export of every metric
//! (cumulative temporality: the latest holds the totals), a short history of request counts for rates, and
//! running totals. Memory stays bounded however long the demo runs.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use otelwright_receiver::{ReceivedLog, ReceivedMetric, ReceivedSpan, Receiver, Signal};

use super::report::{self, RouteKey};

const MAX_TRACES: usize = 500;
const MAX_LOGS: usize = 200;
/// A trace quicker than this (100 ms) and without errors is a typical one.
const TYPICAL: u64 = 100_000_000;
/// Rates are measured over this much history.
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// One trace's spans and the services they came from.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    pub(crate) spans: Vec<ReceivedSpan>,
    pub(crate) services: BTreeSet<String>,
}

impl Trace {
    pub(crate) fn has_error(&self) -> bool {
        self.spans.iter().any(|s| s.status_code() == 2)
    }

    /// From the first start to the last end.
    pub(crate) fn duration_nanos(&self) -> u64 {
        let start = self.spans.iter().map(|s| s.span.start_time_unix_nano).min().unwrap_or(0);
        let end = self.spans.iter().map(|s| s.span.end_time_unix_nano).max().unwrap_or(start);
        end.saturating_sub(start)
    }

    pub(crate) fn refs(&self) -> Vec<&ReceivedSpan> {
        self.spans.iter().collect()
    }
}

/// Running totals since the demo started.
#[derive(Debug, Default, Clone)]
pub(crate) struct Totals {
    pub(crate) spans: u64,
    pub(crate) spans_by_service: BTreeMap<String, u64>,
    pub(crate) traces: u64,
    /// Traces with spans from more than one service.
    pub(crate) cross_service_traces: u64,
    pub(crate) logs: u64,
    pub(crate) logs_with_trace_id: u64,
    pub(crate) metric_exports: u64,
}

/// The demo's bounded copy of the received signals.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    traces: BTreeMap<String, Trace>,
    order: VecDeque<String>,
    pub(crate) logs: VecDeque<ReceivedLog>,
    metrics: BTreeMap<(String, String, String), ReceivedMetric>,
    counts: VecDeque<(Instant, BTreeMap<RouteKey, u64>)>,
    /// WebSocket messages counted so far, over the same history as `counts`.
    ws_messages: VecDeque<(Instant, u64)>,
    pub(crate) totals: Totals,
}

fn service(resource_str: Option<String>) -> String {
    resource_str.unwrap_or_else(|| "unknown".to_owned())
}

impl Collected {
    /// Moves what the receiver holds into this state (the receiver is left empty; nothing arriving meanwhile is
    /// lost).
    pub(crate) fn absorb(&mut self, receiver: &Receiver) {
        let otelwright_receiver::Drained { requests, spans, logs, metrics } = receiver.drain();
        self.totals.metric_exports += requests.iter().filter(|r| r.signal == Signal::Metrics).count() as u64;
        for span in spans {
            self.add_span(span);
        }
        for log in logs {
            self.totals.logs += 1;
            if log.trace_id_hex().is_some() {
                self.totals.logs_with_trace_id += 1;
            }
            if self.logs.len() == MAX_LOGS {
                self.logs.pop_front();
            }
            self.logs.push_back(log);
        }
        for m in metrics {
            let key = (service(m.resource_str("service.name")), m.scope_name().to_owned(), m.name().to_owned());
            self.metrics.insert(key, m);
        }
        let now = Instant::now();
        let counts = report::red(&self.metrics()).into_iter().map(|(k, r)| (k, r.count)).collect();
        self.counts.push_back((now, counts));
        while self.counts.len() > 2 && now.duration_since(self.counts[1].0) >= RATE_WINDOW {
            self.counts.pop_front();
        }
        self.ws_messages.push_back((now, report::websocket_messages(&self.metrics())));
        while self.ws_messages.len() > 2 && now.duration_since(self.ws_messages[1].0) >= RATE_WINDOW {
            self.ws_messages.pop_front();
        }
    }

    fn add_span(&mut self, span: ReceivedSpan) {
        let service = service(span.resource_str("service.name"));
        self.totals.spans += 1;
        *self.totals.spans_by_service.entry(service.clone()).or_default() += 1;
        let id = span.trace_id_hex();
        if !self.traces.contains_key(&id) {
            self.totals.traces += 1;
            if self.order.len() == MAX_TRACES
                && let Some(old) = self.order.pop_front()
            {
                self.traces.remove(&old);
            }
            self.order.push_back(id.clone());
        }
        let trace = self.traces.entry(id).or_default();
        let was_single = trace.services.len() == 1;
        trace.services.insert(service);
        if was_single && trace.services.len() == 2 {
            self.totals.cross_service_traces += 1;
        }
        trace.spans.push(span);
    }

    /// The latest export of every metric.
    pub(crate) fn metrics(&self) -> Vec<ReceivedMetric> {
        self.metrics.values().cloned().collect()
    }

    /// Requests per second per RED key over the last ~10 s.
    pub(crate) fn rates(&self) -> BTreeMap<RouteKey, f64> {
        let (Some((t0, first)), Some((t1, last))) = (self.counts.front(), self.counts.back()) else {
            return BTreeMap::new();
        };
        let dt = t1.duration_since(*t0).as_secs_f64();
        last.iter()
            .map(|(k, &n)| {
                let before = first.get(k).copied().unwrap_or(0);
                (k.clone(), if dt > 0.0 { n.saturating_sub(before) as f64 / dt } else { 0.0 })
            })
            .collect()
    }

    /// WebSocket messages per second (both directions) over the last ~10 s.
    pub(crate) fn websocket_message_rate(&self) -> f64 {
        match (self.ws_messages.front(), self.ws_messages.back()) {
            (Some((t0, first)), Some((t1, last))) if t1 > t0 => {
                last.saturating_sub(*first) as f64 / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    /// Retained traces, oldest first.
    pub(crate) fn traces(&self) -> impl DoubleEndedIterator<Item = &Trace> {
        self.order.iter().filter_map(|id| self.traces.get(id))
    }

    /// The traces worth showing, most interesting first: the latest failing one, the slowest, the latest quick
    /// and successful one across services, any across services, then the most recent. At most `n`, no repeats.
    pub(crate) fn highlights(&self, n: usize) -> Vec<(&'static str, &Trace)> {
        // The newest traces may still be missing spans that a later export carries: skip the last few.
        let settled: Vec<&Trace> = self.traces().rev().skip(3).collect();
        let candidates = [
            ("failing", settled.iter().copied().find(|t| t.has_error())),
            ("slowest", settled.iter().copied().max_by_key(|t| t.duration_nanos())),
            (
                "typical",
                settled
                    .iter()
                    .copied()
                    .find(|t| t.services.len() > 1 && !t.has_error() && t.duration_nanos() < TYPICAL),
            ),
            ("across services", settled.iter().copied().find(|t| t.services.len() > 1)),
        ];
        let recent = settled.iter().map(|t| ("recent", Some(*t)));
        let mut picks: Vec<(&'static str, &Trace)> = Vec::new();
        for (label, trace) in candidates.into_iter().chain(recent) {
            if let Some(t) = trace
                && !picks.iter().any(|(_, p)| std::ptr::eq(*p, t))
            {
                picks.push((label, t));
            }
            if picks.len() >= n {
                break;
            }
        }
        picks.truncate(n);
        picks
    }
}
