//! Fault modes for reliability tests: refuse connections, delay every answer, hold every answer until the fault
//! changes, answer with a given gRPC or HTTP status (optionally with a retry hint: gRPC `RetryInfo`, HTTP
//! `Retry-After`), or accept only partially. Switch between them at run time with [`crate::Receiver::set_fault`];
//! the default is to behave.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::store::Store;
use crate::types::Signal;

/// How the receiver misbehaves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Behave: store and answer OK.
    #[default]
    None,
    /// Behave as a collector that is down: new connections are closed at once, and open ones fail at their next
    /// read or write.
    Refuse,
    /// Wait this long before answering (the data is still stored, like a slow collector).
    Delay(Duration),
    /// Accept every export and answer none until the fault is changed: a collector that hangs. A held export
    /// then goes on under the new fault (stored and answered OK after [`Fault::None`]).
    /// [`crate::Receiver::held_requests`] counts the exports waiting, so a test can tell that an exporter is
    /// stalled, not guess it with a sleep.
    Hold,
    /// Answer every gRPC export with this status code (`tonic::Code` as a number, e.g. 14 UNAVAILABLE,
    /// 8 RESOURCE_EXHAUSTED) and, with `retry_after`, a `google.rpc.RetryInfo` detail. HTTP is unaffected.
    GrpcStatus {
        /// The gRPC status code.
        code: i32,
        /// The delay to put in `RetryInfo`.
        retry_after: Option<Duration>,
    },
    /// Answer every HTTP export with this status and, with `retry_after`, a `Retry-After` header (seconds).
    /// gRPC is unaffected.
    HttpStatus {
        /// The HTTP status code.
        status: u16,
        /// The `Retry-After` value.
        retry_after: Option<Duration>,
    },
    /// Store the data but answer with `partial_success`: `rejected` items and a message.
    Partial {
        /// The number reported in `rejected_spans` / `rejected_data_points` / `rejected_log_records`.
        rejected: i64,
        /// `error_message`.
        message: String,
    },
}

/// The current fault, how many requests it hit, and the exports [`Fault::Hold`] holds now, per signal.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    fault: Mutex<Fault>,
    hits: AtomicUsize,
    changed: tokio::sync::Notify,
    held: [AtomicUsize; 3],
}

impl FaultState {
    pub(crate) fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = fault;
        self.changed.notify_waiters();
    }

    pub(crate) fn get(&self) -> Fault {
        self.fault.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub(crate) fn refusing(&self) -> bool {
        matches!(*self.fault.lock().unwrap_or_else(std::sync::PoisonError::into_inner), Fault::Refuse)
    }

    /// Counts a request or connection the fault changed.
    pub(crate) fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    /// Waits while the fault is [`Fault::Hold`], counted as one held `signal` export meanwhile (also when the
    /// client gives up and the wait is dropped).
    pub(crate) async fn hold(&self, signal: Signal) {
        self.hit();
        let counter = &self.held[signal as usize];
        counter.fetch_add(1, Ordering::SeqCst);
        let _release = Release(counter);
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a `set` between the check and the await still wakes this wait.
            changed.as_mut().enable();
            if self.get() != Fault::Hold {
                return;
            }
            changed.await;
        }
    }

    /// Exports of `signal` held now.
    pub(crate) fn held(&self, signal: Signal) -> usize {
        self.held[signal as usize].load(Ordering::SeqCst)
    }
}

/// Takes one held export off its counter when the hold ends or is dropped.
struct Release<'a>(&'a AtomicUsize);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pin_project! {
    /// An accepted connection that fails its next read or write while the fault is [`Fault::Refuse`], so a client
    /// with a connection already open (an HTTP/2 gRPC channel) sees the collector go down too.
    pub(crate) struct FaultyStream {
        #[pin]
        inner: TcpStream,
        store: Arc<Store>,
    }
}

impl FaultyStream {
    pub(crate) fn new(inner: TcpStream, store: Arc<Store>) -> Self {
        FaultyStream { inner, store }
    }

    fn down(&self) -> bool {
        self.store.fault.refusing()
    }
}

fn reset() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "otelwright-receiver is refusing (fault injected)")
}

impl AsyncRead for FaultyStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.down() {
            return Poll::Ready(Err(reset()));
        }
        self.project().inner.poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultyStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.down() {
            return Poll::Ready(Err(reset()));
        }
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for FaultyStream {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}
