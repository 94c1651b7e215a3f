//! The queue between the application's threads and the wire, shared by the span and log processors.
//!
//! - [`Batcher::push`] admits an item if fewer than `max_queue_size` are queued or in an export still running
//!   (else it is dropped and counted), moves it into a bounded lock-free channel, and wakes the worker only when
//!   the queue reaches a full batch: one wake-up per batch, not per item.
//! - The worker thread (telemetry suppressed, so nothing it causes is recorded) also wakes when the schedule delay
//!   passes, and for flush, shutdown and a new resource. It drains up to `max_export_batch_size` items, encodes them
//!   into one reused buffer, drops them, and starts the request on the export runtime; at most
//!   `max_concurrent_exports` run at once, and the worker waits for a free one before starting another.
//! - Each request counts its items as exported or failed when it ends (or failed if the runtime drops it) and
//!   frees their queue slots.
//! - Flush and shutdown export what is queued and wait for the running requests, within their deadline; the caller
//!   never waits longer than its timeout, whatever the worker is doing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};

use super::transport::Transport;
use crate::config::BatchSettings;
use crate::selfobs::{Counters, Occupancy};

/// How long `force_flush` waits (it has no timeout argument): the SDK's batch processors wait 5 s.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// What a worker encodes its batches with.
pub(crate) trait Encode: Send + 'static {
    /// What is queued: a span, or an already encoded log record.
    type Item: Send + 'static;
    /// Appends one export request carrying `items` to `out`.
    fn encode(&mut self, items: &[Self::Item], out: &mut Vec<u8>);
    /// The provider's resource, set once when it is built.
    fn set_resource(&mut self, resource: &Resource);
}

enum Message {
    /// A full batch is queued.
    Wake,
    Flush(SyncSender<OTelSdkResult>),
    Shutdown(SyncSender<OTelSdkResult>, Instant),
    SetResource(Box<Resource>),
}

/// The application-side handle of one queue and its worker.
pub(crate) struct Batcher<T> {
    items: SyncSender<T>,
    control: SyncSender<Message>,
    /// Items in the channel that the worker has not taken yet.
    queued: Arc<AtomicUsize>,
    /// A `Wake` is on its way and not yet handled.
    wake_sent: Arc<AtomicBool>,
    /// Items queued or in a running export: the queue's capacity bounds this.
    occupancy: Arc<Occupancy>,
    counters: Arc<Counters>,
    capacity: usize,
    batch_size: usize,
    /// How many `Wake`s were sent (for tests: one per batch, not per item).
    wakes: AtomicUsize,
}

impl<T> std::fmt::Debug for Batcher<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("capacity", &self.capacity)
            .field("batch_size", &self.batch_size)
            .field("queued", &self.queued.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Message::Wake => "Wake",
            Message::Flush(_) => "Flush",
            Message::Shutdown(..) => "Shutdown",
            Message::SetResource(_) => "SetResource",
        })
    }
}

impl<T: Send + 'static> Batcher<T> {
    /// Starts the worker thread `name`, exporting through `transport` on `runtime`.
    pub(crate) fn start<E: Encode<Item = T>>(
        name: &str,
        encoder: E,
        transport: Transport,
        runtime: tokio::runtime::Handle,
        settings: &BatchSettings,
        counters: Arc<Counters>,
    ) -> std::io::Result<Self> {
        let capacity = settings.max_queue_size.max(1);
        let batch_size = settings.max_export_batch_size.clamp(1, capacity);
        let (items, items_rx) = sync_channel(capacity);
        let (control, control_rx) = sync_channel(64);
        let queued = Arc::new(AtomicUsize::new(0));
        let wake_sent = Arc::new(AtomicBool::new(false));
        let occupancy = Arc::new(Occupancy::default());
        let worker = Worker {
            encoder,
            items: items_rx,
            control: control_rx,
            queued: queued.clone(),
            wake_sent: wake_sent.clone(),
            batch: Vec::with_capacity(batch_size),
            buffer: Vec::new(),
            batch_size,
            // A zero delay would make the worker spin.
            schedule_delay: settings.schedule_delay.max(Duration::from_millis(1)),
            exports: Arc::new(Exports::new(settings.max_concurrent_exports.max(1))),
            transport: Arc::new(transport),
            runtime,
            counters: counters.clone(),
            occupancy: occupancy.clone(),
        };
        std::thread::Builder::new().name(name.to_owned()).spawn(move || worker.run())?;
        Ok(Batcher {
            items,
            control,
            queued,
            wake_sent,
            occupancy,
            counters,
            capacity,
            batch_size,
            wakes: AtomicUsize::new(0),
        })
    }

    /// Takes a queue slot for one item, or counts it as dropped and returns false when the queue is full (items
    /// queued or in a running export). Never blocks.
    pub(crate) fn reserve(&self) -> bool {
        let admitted = self.occupancy.admit(self.capacity);
        if !admitted {
            self.counters.drop_one();
        }
        admitted
    }

    /// Queues an item [`Batcher::reserve`] took a slot for. Never blocks.
    pub(crate) fn push_reserved(&self, item: T) {
        // Counted before it is sent, so a drain never finds an item it did not count (as the SDK's processor).
        let queued = self.queued.fetch_add(1, Ordering::AcqRel) + 1;
        if let Err(e) = self.items.try_send(item) {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            self.occupancy.release(1);
            // Full cannot happen (admission keeps below the channel's bound); disconnected means shut down.
            if matches!(e, TrySendError::Full(_)) {
                self.counters.drop_one();
            }
            return;
        }
        if queued >= self.batch_size
            && !self.wake_sent.load(Ordering::Relaxed)
            && !self.wake_sent.swap(true, Ordering::AcqRel)
        {
            self.wakes.fetch_add(1, Ordering::Relaxed);
            if self.control.try_send(Message::Wake).is_err() {
                self.wake_sent.store(false, Ordering::Release);
            }
        }
    }

    /// Exports what is queued and waits for it, at most [`FLUSH_TIMEOUT`].
    pub(crate) fn force_flush(&self) -> OTelSdkResult {
        let (reply, result) = sync_channel(1);
        self.request(Message::Flush(reply))?;
        result.recv_timeout(FLUSH_TIMEOUT).unwrap_or(Err(OTelSdkError::Timeout(FLUSH_TIMEOUT)))
    }

    /// Exports what is queued, waits for it and stops the worker, returning within `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        let (reply, result) = sync_channel(1);
        self.request(Message::Shutdown(reply, Instant::now() + timeout))?;
        result.recv_timeout(timeout).unwrap_or(Err(OTelSdkError::Timeout(timeout)))
    }

    pub(crate) fn set_resource(&self, resource: &Resource) {
        let _ = self.control.try_send(Message::SetResource(Box::new(resource.clone())));
    }

    /// How many times the worker was woken for a full batch.
    #[cfg(test)]
    pub(crate) fn wakes(&self) -> usize {
        self.wakes.load(Ordering::Relaxed)
    }

    fn request(&self, message: Message) -> OTelSdkResult {
        self.control.try_send(message).map_err(|e| match e {
            TrySendError::Disconnected(_) => OTelSdkError::AlreadyShutdown,
            TrySendError::Full(_) => OTelSdkError::InternalFailure("the export worker's control queue is full".into()),
        })
    }
}

/// The requests running on the export runtime: a counting semaphore the worker thread can wait on with a
/// deadline (no Tokio timer, so it works whatever state the runtime is in), plus the failures flush reports.
#[derive(Debug)]
struct Exports {
    state: Mutex<ExportsState>,
    changed: Condvar,
    limit: usize,
}

#[derive(Debug, Default)]
struct ExportsState {
    running: usize,
    failures: u64,
    last_error: String,
}

impl Exports {
    fn new(limit: usize) -> Self {
        Exports { state: Mutex::new(ExportsState::default()), changed: Condvar::new(), limit }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ExportsState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until fewer than `below` requests run; false when `deadline` passed first.
    fn wait_below(&self, below: usize, deadline: Option<Instant>) -> bool {
        let mut state = self.lock();
        while state.running >= below {
            state = match deadline {
                None => self.changed.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.changed.wait_timeout(state, left).unwrap_or_else(std::sync::PoisonError::into_inner).0
                }
            };
        }
        true
    }

    fn failures(&self) -> u64 {
        self.lock().failures
    }

    fn finish(&self, error: Option<String>) {
        let mut state = self.lock();
        state.running -= 1;
        if let Some(e) = error {
            state.failures += 1;
            state.last_error = e;
        }
        drop(state);
        self.changed.notify_all();
    }
}

/// One running request's items: counted as failed if the request is dropped before it ends (the runtime shut
/// down under it), so every admitted item ends up exported, failed or dropped.
struct Running {
    items: usize,
    exports: Arc<Exports>,
    counters: Arc<Counters>,
    occupancy: Arc<Occupancy>,
    settled: bool,
}

impl Running {
    /// Counts the items by `outcome`, frees their queue slots and the request slot.
    fn settle(&mut self, outcome: Result<(), String>) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        self.counters.record(self.items, outcome.is_ok());
        if let Err(reason) = &outcome {
            self.counters.warn_failure(self.items, reason);
        }
        self.occupancy.release(self.items);
        self.exports.finish(outcome.err());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.settle(Err("the export was cancelled".to_owned()));
    }
}

struct Worker<E: Encode> {
    encoder: E,
    items: Receiver<E::Item>,
    control: Receiver<Message>,
    queued: Arc<AtomicUsize>,
    wake_sent: Arc<AtomicBool>,
    /// The batch being encoded (reused).
    batch: Vec<E::Item>,
    /// The encoded request (reused).
    buffer: Vec<u8>,
    batch_size: usize,
    schedule_delay: Duration,
    exports: Arc<Exports>,
    transport: Arc<Transport>,
    runtime: tokio::runtime::Handle,
    counters: Arc<Counters>,
    occupancy: Arc<Occupancy>,
}

impl<E: Encode> Worker<E> {
    fn run(mut self) {
        // Nothing the worker does (encoding, spawning, logging) may be recorded: it would feed back into export.
        let _suppressed = Context::enter_telemetry_suppressed_scope();
        let mut last_export = Instant::now();
        loop {
            let wait = self.schedule_delay.saturating_sub(last_export.elapsed());
            match self.control.recv_timeout(wait) {
                Ok(Message::Wake) => {
                    self.wake_sent.store(false, Ordering::Release);
                    while self.queued.load(Ordering::Acquire) >= self.batch_size {
                        match self.export_batch(None) {
                            Some(n) if n > 0 => last_export = Instant::now(),
                            _ => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.export_queued(None);
                    last_export = Instant::now();
                }
                Ok(Message::Flush(reply)) => {
                    let _ = reply.send(self.flush(Instant::now() + FLUSH_TIMEOUT));
                    last_export = Instant::now();
                }
                Ok(Message::Shutdown(reply, deadline)) => {
                    let _ = reply.send(self.flush(deadline));
                    return;
                }
                Ok(Message::SetResource(resource)) => self.encoder.set_resource(&resource),
                // The processor is gone without a shutdown: nothing can be queued any more.
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Exports what was queued when called (not what arrives meanwhile), in batches; false if a free request
    /// slot did not come before `deadline`.
    fn export_queued(&mut self, deadline: Option<Instant>) -> bool {
        let mut left = self.queued.load(Ordering::Acquire);
        while left > 0 {
            match self.export_batch(deadline) {
                None => return false,
                Some(0) => break,
                Some(n) => left = left.saturating_sub(n),
            }
        }
        true
    }

    /// Waits for a free request slot (`None` if `deadline` passed first), then takes up to a batch from the queue,
    /// encodes it and starts its request. Returns how many items it took.
    fn export_batch(&mut self, deadline: Option<Instant>) -> Option<usize> {
        if !self.exports.wait_below(self.exports.limit, deadline) {
            return None;
        }
        while self.batch.len() < self.batch_size {
            match self.items.try_recv() {
                Ok(item) => self.batch.push(item),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let items = self.batch.len();
        if items == 0 {
            return Some(0);
        }
        self.queued.fetch_sub(items, Ordering::AcqRel);
        self.buffer.clear();
        self.encoder.encode(&self.batch, &mut self.buffer);
        self.batch.clear();
        self.exports.lock().running += 1;
        let mut running = Running {
            items,
            exports: self.exports.clone(),
            counters: self.counters.clone(),
            occupancy: self.occupancy.clone(),
            settled: false,
        };
        match self.transport.body(&self.buffer) {
            Ok(body) => {
                let transport = self.transport.clone();
                // A runtime that is shut down drops the task at once: `Running` then counts it as failed.
                drop(self.runtime.spawn(async move {
                    let outcome = transport.export(body).await;
                    running.settle(outcome);
                }));
            }
            Err(reason) => running.settle(Err(reason)),
        }
        Some(items)
    }

    /// Exports everything queued and waits for every running request, until `deadline`. Fails if any request
    /// ended in failure meanwhile (with the last reason), or the deadline passed first.
    fn flush(&mut self, deadline: Instant) -> OTelSdkResult {
        let start = Instant::now();
        let failures = self.exports.failures();
        let done = self.export_queued(Some(deadline)) && self.exports.wait_below(1, Some(deadline));
        if !done {
            return Err(OTelSdkError::Timeout(start.elapsed()));
        }
        let state = self.exports.lock();
        if state.failures > failures {
            return Err(OTelSdkError::InternalFailure(state.last_error.clone()));
        }
        Ok(())
    }
}
