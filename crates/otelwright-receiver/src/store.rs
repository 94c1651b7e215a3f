//! The in-memory store: one `Mutex<Vec<_>>` per signal plus the request log,
//! flattening of export requests into stored items, and the deadline waits
//! (woken by a [`Notify`] on every insert, never by polling).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::received::{ReceivedLog, ReceivedMetric, ReceivedSpan};
use crate::types::{Drained, RawRequest, RequestInfo, Signal, Transport, WaitTimeout};

/// Everything received so far.
#[derive(Debug, Default)]
pub(crate) struct Store {
    spans: Mutex<Vec<ReceivedSpan>>,
    logs: Mutex<Vec<ReceivedLog>>,
    metrics: Mutex<Vec<ReceivedMetric>>,
    requests: Mutex<Vec<RequestInfo>>,
    /// Whether payloads are kept in `bodies` (off by default: a long-running receiver would grow without bound).
    keep_bodies: AtomicBool,
    bodies: Mutex<Vec<RawRequest>>,
    /// Signalled (`notify_waiters`) after every insert and on clear.
    changed: Notify,
    /// The current fault mode.
    pub(crate) fault: crate::fault::FaultState,
}

/// Locks a mutex, ignoring poisoning: the data is plain `Vec`s that a panic
/// elsewhere cannot leave half-updated in a way that matters to tests.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    pub(crate) fn spans(&self) -> Vec<ReceivedSpan> {
        lock(&self.spans).clone()
    }

    pub(crate) fn logs(&self) -> Vec<ReceivedLog> {
        lock(&self.logs).clone()
    }

    pub(crate) fn metrics(&self) -> Vec<ReceivedMetric> {
        lock(&self.metrics).clone()
    }

    pub(crate) fn requests(&self) -> Vec<RequestInfo> {
        lock(&self.requests).clone()
    }

    pub(crate) fn set_keep_bodies(&self, keep: bool) {
        self.keep_bodies.store(keep, Ordering::Relaxed);
    }

    pub(crate) fn keeps_bodies(&self) -> bool {
        self.keep_bodies.load(Ordering::Relaxed)
    }

    /// Keeps an accepted request's payload when [`keeps_bodies`](Self::keeps_bodies).
    pub(crate) fn keep_body(&self, signal: Signal, transport: Transport, body: impl FnOnce() -> bytes::Bytes) {
        if self.keeps_bodies() {
            lock(&self.bodies).push(RawRequest { signal, transport, body: body() });
        }
    }

    pub(crate) fn bodies(&self) -> Vec<RawRequest> {
        lock(&self.bodies).clone()
    }

    /// Takes everything received so far, leaving the store empty. Each list is taken whole under its own lock, so
    /// an export arriving meanwhile is in this result or the next, never lost and never in both.
    pub(crate) fn drain(&self) -> Drained {
        // A request is recorded before its items, so one export can straddle two drains: its request in one, its
        // items in the next. Counts summed over drains are still exact.
        Drained {
            requests: std::mem::take(&mut *lock(&self.requests)),
            spans: std::mem::take(&mut *lock(&self.spans)),
            logs: std::mem::take(&mut *lock(&self.logs)),
            metrics: std::mem::take(&mut *lock(&self.metrics)),
        }
    }

    pub(crate) fn clear(&self) {
        lock(&self.spans).clear();
        lock(&self.logs).clear();
        lock(&self.metrics).clear();
        lock(&self.requests).clear();
        lock(&self.bodies).clear();
        self.changed.notify_waiters();
    }

    /// Records the request first, then its items, so that whoever sees the
    /// items also sees the request.
    /// Stores one accepted request's items and its [`RequestInfo`], wakes the waiters, and returns the item count.
    fn record<T>(
        &self,
        slot: &Mutex<Vec<T>>,
        items: Vec<T>,
        signal: Signal,
        transport: Transport,
        gzip: bool,
    ) -> usize {
        let n = items.len();
        lock(&self.requests).push(RequestInfo { signal, transport, items: n, gzip });
        lock(slot).extend(items);
        self.changed.notify_waiters();
        n
    }

    pub(crate) fn insert_traces(&self, request: ExportTraceServiceRequest, transport: Transport, gzip: bool) -> usize {
        let items = flatten(
            request.resource_spans.into_iter().map(|rs| (rs.resource, rs.scope_spans)),
            |ss| (ss.scope, ss.spans),
            |resource, scope, span| ReceivedSpan { resource: resource.clone(), scope: scope.clone(), span, transport },
        );
        self.record(&self.spans, items, Signal::Traces, transport, gzip)
    }

    pub(crate) fn insert_logs(&self, request: ExportLogsServiceRequest, transport: Transport, gzip: bool) -> usize {
        let items = flatten(
            request.resource_logs.into_iter().map(|rl| (rl.resource, rl.scope_logs)),
            |sl| (sl.scope, sl.log_records),
            |resource, scope, record| ReceivedLog {
                resource: resource.clone(),
                scope: scope.clone(),
                record,
                transport,
            },
        );
        self.record(&self.logs, items, Signal::Logs, transport, gzip)
    }

    pub(crate) fn insert_metrics(
        &self,
        request: ExportMetricsServiceRequest,
        transport: Transport,
        gzip: bool,
    ) -> usize {
        let items = flatten(
            request.resource_metrics.into_iter().map(|rm| (rm.resource, rm.scope_metrics)),
            |sm| (sm.scope, sm.metrics),
            |resource, scope, metric| ReceivedMetric {
                resource: resource.clone(),
                scope: scope.clone(),
                metric,
                transport,
            },
        );
        self.record(&self.metrics, items, Signal::Metrics, transport, gzip)
    }

    /// Waits until `pred` holds for the snapshot returned by `snapshot`, or
    /// until `timeout` has passed.
    ///
    /// Each round registers for the next notification *before* taking the
    /// snapshot, so an insert between the check and the await is not missed.
    pub(crate) async fn wait_for<T>(
        &self,
        what: &'static str,
        snapshot: impl Fn(&Store) -> Vec<T>,
        pred: impl Fn(&[T]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<T>, WaitTimeout> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let items = snapshot(self);
            if pred(&items) {
                return Ok(items);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                // One last look: an insert may have landed right at the deadline.
                let items = snapshot(self);
                if pred(&items) {
                    return Ok(items);
                }
                return Err(WaitTimeout { what, timeout, seen: items.len() });
            }
        }
    }
}

/// Flattens OTLP's resource → scope → item nesting into one record per item, made by `item` with the item's
/// resource and scope (absent ones are empty, as proto3 reads them).
fn flatten<S, I, O>(
    resources: impl IntoIterator<Item = (Option<Resource>, Vec<S>)>,
    scope: impl Fn(S) -> (Option<InstrumentationScope>, Vec<I>),
    item: impl Fn(&Resource, &InstrumentationScope, I) -> O,
) -> Vec<O> {
    let mut out = Vec::new();
    for (resource, scopes) in resources {
        let resource = resource.unwrap_or_default();
        for s in scopes {
            let (sc, items) = scope(s);
            let sc = sc.unwrap_or_default();
            out.extend(items.into_iter().map(|i| item(&resource, &sc, i)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use std::sync::Arc;

    fn one_span(name: &str) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: None,
                scope_spans: vec![ScopeSpans {
                    scope: None,
                    spans: vec![Span { name: name.into(), ..Default::default() }],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    #[tokio::test]
    async fn wait_wakes_on_insert() {
        let store = Arc::new(Store::default());
        let waiter = {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .wait_for("spans", Store::spans, |s| s.iter().any(|s| s.span.name == "b"), Duration::from_secs(30))
                    .await
            })
        };
        tokio::task::yield_now().await;
        store.insert_traces(one_span("a"), Transport::Grpc, false);
        store.insert_traces(one_span("b"), Transport::Grpc, false);
        let got = waiter.await.expect("join").expect("no timeout");
        assert_eq!(got.len(), 2);
        assert_eq!(store.requests().len(), 2);
    }

    #[tokio::test]
    async fn wait_times_out() {
        let store = Store::default();
        store.insert_traces(one_span("a"), Transport::HttpJson, true);
        let err = store
            .wait_for("spans", Store::spans, |s| s.len() > 1, Duration::from_millis(20))
            .await
            .expect_err("must time out");
        assert_eq!(err.seen, 1);
        assert_eq!(err.what, "spans");
        assert!(err.to_string().contains("1 spans received"), "{err}");
    }

    #[test]
    fn clear_empties_everything() {
        let store = Store::default();
        store.insert_traces(one_span("a"), Transport::Grpc, false);
        store.clear();
        assert!(store.spans().is_empty());
        assert!(store.requests().is_empty());
    }
}
