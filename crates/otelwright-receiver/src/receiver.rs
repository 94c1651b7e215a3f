//! [`Receiver`] and [`ReceiverConfig`]: binding the two listeners, running
//! the gRPC and HTTP servers on tokio tasks, the public read/wait API, and
//! shutdown (explicit, or when the last handle is dropped).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::fault::Fault;
use crate::received::{ReceivedLog, ReceivedMetric, ReceivedSpan};
use crate::store::Store;
use crate::tls::{ALPN_H2, ALPN_HTTP1, ReceiverTls};
use crate::types::{Drained, RequestInfo, Signal, WaitTimeout};
use crate::{grpc, http};

/// How long [`Receiver::shutdown`] lets open connections drain before it
/// aborts the server tasks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Where the receiver listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// Address for OTLP/gRPC. Port 0 picks a free port.
    pub grpc_addr: SocketAddr,
    /// Address for OTLP/HTTP. Port 0 picks a free port.
    pub http_addr: SocketAddr,
}

impl Default for ReceiverConfig {
    /// `127.0.0.1:0` for both: ephemeral ports on the loopback interface.
    fn default() -> Self {
        let ephemeral = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        Self { grpc_addr: ephemeral, http_addr: ephemeral }
    }
}

impl ReceiverConfig {
    /// Both servers on `127.0.0.1` at the given ports (`0` for an ephemeral
    /// port), e.g. `ReceiverConfig::localhost(4317, 4318)` for the standard
    /// OTLP ports.
    pub fn localhost(grpc_port: u16, http_port: u16) -> Self {
        Self {
            grpc_addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), grpc_port),
            http_addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), http_port),
        }
    }
}

/// A running OTLP receiver (gRPC and HTTP) that keeps everything it receives
/// in memory.
///
/// Cloning is cheap and every clone sees the same store. The servers run
/// until [`shutdown`](Receiver::shutdown) is called on any clone or the last
/// clone is dropped.
#[derive(Debug, Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<Store>,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    /// Whether both listeners speak TLS (endpoints are `https://`).
    tls: bool,
    /// `true` means stop. Dropping the sender (with the last handle) also
    /// stops the servers.
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Completes once a stop is requested or the sender is gone.
async fn stop_signal(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// `http://host:port` (`https://` with `tls`), with an unspecified bind
/// address (`0.0.0.0`, `::`) replaced by loopback so the URL is connectable.
fn endpoint(addr: SocketAddr, tls: bool) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", SocketAddr::new(ip, addr.port()))
}

impl Receiver {
    /// Starts a receiver on ephemeral ports of `127.0.0.1`.
    ///
    /// Must be called inside a tokio runtime; the servers run as tasks on it.
    pub async fn start() -> std::io::Result<Receiver> {
        Self::start_with(ReceiverConfig::default()).await
    }

    /// Starts a receiver on the given addresses.
    ///
    /// Both listeners are bound before this returns, so the endpoints are
    /// ready to accept connections.
    pub async fn start_with(config: ReceiverConfig) -> std::io::Result<Receiver> {
        Self::start_inner(config, None).await
    }

    /// Starts a receiver on the given addresses that speaks TLS only, on both
    /// listeners: ALPN `h2` for OTLP/gRPC and `http/1.1` for OTLP/HTTP. With
    /// [`ReceiverTls::client_ca_pem`] set, clients must present a certificate
    /// signed by that CA (mutual TLS).
    ///
    /// The endpoints are `https://127.0.0.1:PORT` (for the default config),
    /// which the [`TestPki`](crate::TestPki) server certificate covers.
    /// Handshakes run per connection, off the accept loop, and are given 10
    /// seconds; a failed handshake (a plaintext client, an untrusted or missing
    /// client certificate) just closes that connection, and is logged at debug.
    /// The [`Fault`] modes apply as without TLS.
    ///
    /// Errors with [`std::io::ErrorKind::InvalidInput`] for unusable PEM (no
    /// certificate, a key that does not match) before binding anything.
    ///
    /// ```no_run
    /// use otelwright_receiver::{Receiver, ReceiverConfig, ReceiverTls, TestPki};
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let pki = TestPki::generate()?;
    /// let receiver = Receiver::start_tls(ReceiverConfig::default(), ReceiverTls::server_only(&pki)).await?;
    /// assert!(receiver.grpc_endpoint().starts_with("https://127.0.0.1:"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start_tls(config: ReceiverConfig, tls: ReceiverTls) -> std::io::Result<Receiver> {
        let grpc_tls = tls.server_config(ALPN_H2)?;
        let http_tls = tls.server_config(ALPN_HTTP1)?;
        Self::start_inner(config, Some((grpc_tls, http_tls))).await
    }

    async fn start_inner(
        config: ReceiverConfig,
        tls: Option<(Arc<rustls::ServerConfig>, Arc<rustls::ServerConfig>)>,
    ) -> std::io::Result<Receiver> {
        let grpc_listener = TcpListener::bind(config.grpc_addr).await?;
        let http_listener = TcpListener::bind(config.http_addr).await?;
        let grpc_addr = grpc_listener.local_addr()?;
        let http_addr = http_listener.local_addr()?;

        let store = Arc::new(Store::default());
        let (stop, stop_rx) = watch::channel(false);
        let is_tls = tls.is_some();
        let (grpc_tls, http_tls) = tls.unzip();
        let grpc_task =
            tokio::spawn(grpc::serve(grpc_listener, Arc::clone(&store), grpc_tls, stop_signal(stop_rx.clone())));
        let http_task = tokio::spawn(http::serve(http_listener, Arc::clone(&store), http_tls, stop_signal(stop_rx)));
        tracing::debug!(%grpc_addr, %http_addr, tls = is_tls, "otlp receiver started");

        Ok(Receiver {
            inner: Arc::new(Inner {
                store,
                grpc_addr,
                http_addr,
                tls: is_tls,
                stop,
                tasks: Mutex::new(vec![grpc_task, http_task]),
            }),
        })
    }

    /// Switches the fault mode (effective for the next request or connection).
    ///
    /// ```no_run
    /// # async fn demo(receiver: otelwright_receiver::Receiver) {
    /// use std::time::Duration;
    /// use otelwright_receiver::Fault;
    /// receiver.set_fault(Fault::GrpcStatus { code: 14, retry_after: Some(Duration::from_millis(200)) });
    /// // ... exports now fail with UNAVAILABLE ...
    /// receiver.set_fault(Fault::None);
    /// # }
    /// ```
    pub fn set_fault(&self, fault: Fault) {
        self.inner.store.fault.set(fault);
    }

    /// The current fault mode.
    pub fn fault(&self) -> Fault {
        self.inner.store.fault.get()
    }

    /// Requests (or, for [`Fault::Refuse`], connections) a fault has changed so far.
    pub fn faulted_requests(&self) -> usize {
        self.inner.store.fault.hits()
    }

    /// Exports of `signal` that [`Fault::Hold`] holds unanswered right now: above zero, that signal's exporter is
    /// provably waiting on this collector.
    pub fn held_requests(&self, signal: Signal) -> usize {
        self.inner.store.fault.held(signal)
    }

    /// The bound OTLP/gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.inner.grpc_addr
    }

    /// The bound OTLP/HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.inner.http_addr
    }

    /// The OTLP/gRPC endpoint, e.g. `http://127.0.0.1:4317`
    /// (`https://...` for a receiver started with [`start_tls`](Receiver::start_tls)).
    pub fn grpc_endpoint(&self) -> String {
        endpoint(self.inner.grpc_addr, self.inner.tls)
    }

    /// The OTLP/HTTP base endpoint without a signal path, e.g.
    /// `http://127.0.0.1:4318` (`https://...` with TLS); append `/v1/traces`
    /// etc. for per-signal URLs.
    pub fn http_endpoint(&self) -> String {
        endpoint(self.inner.http_addr, self.inner.tls)
    }

    /// Whether this receiver speaks TLS (it was started with [`start_tls`](Receiver::start_tls)).
    pub fn is_tls(&self) -> bool {
        self.inner.tls
    }

    /// All spans received so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.inner.store.spans()
    }

    /// All log records received so far, in arrival order.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        self.inner.store.logs()
    }

    /// All metrics received so far, in arrival order (each export of a metric
    /// is a separate item).
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        self.inner.store.metrics()
    }

    /// One entry per accepted export request, in arrival order.
    pub fn requests(&self) -> Vec<RequestInfo> {
        self.inner.store.requests()
    }

    /// Takes everything received so far and empties the receiver, for a consumer that keeps its own copy (a live
    /// view, a counter). Unlike reading then [`clear`](Receiver::clear)ing, an export that arrives in between is
    /// not lost: it is in this result or the next.
    pub fn drain(&self) -> Drained {
        self.inner.store.drain()
    }

    /// From now on, keeps the payload of every accepted export request (after decompression), for
    /// [`bodies`](Receiver::bodies): so that another OTLP implementation can decode the very bytes this receiver
    /// decoded. Off by default, since the payloads are kept until [`clear`](Receiver::clear).
    pub fn keep_bodies(&self, keep: bool) {
        self.inner.store.set_keep_bodies(keep);
    }

    /// The kept payloads, in arrival order (see [`keep_bodies`](Receiver::keep_bodies)).
    pub fn bodies(&self) -> Vec<crate::RawRequest> {
        self.inner.store.bodies()
    }

    /// Forgets everything received so far (items, requests and kept payloads).
    pub fn clear(&self) {
        self.inner.store.clear();
    }

    /// Waits until `pred` holds for the spans received so far, returning
    /// them; `Err` once `timeout` has passed without that.
    ///
    /// `pred` is checked at once and again after every insert.
    pub async fn wait_for_spans(
        &self,
        pred: impl Fn(&[ReceivedSpan]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<ReceivedSpan>, WaitTimeout> {
        self.inner.store.wait_for("spans", Store::spans, pred, timeout).await
    }

    /// Waits until `pred` holds for the log records received so far; see
    /// [`wait_for_spans`](Receiver::wait_for_spans).
    pub async fn wait_for_logs(
        &self,
        pred: impl Fn(&[ReceivedLog]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<ReceivedLog>, WaitTimeout> {
        self.inner.store.wait_for("log records", Store::logs, pred, timeout).await
    }

    /// Waits until `pred` holds for the metrics received so far; see
    /// [`wait_for_spans`](Receiver::wait_for_spans).
    pub async fn wait_for_metrics(
        &self,
        pred: impl Fn(&[ReceivedMetric]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMetric>, WaitTimeout> {
        self.inner.store.wait_for("metrics", Store::metrics, pred, timeout).await
    }

    /// Waits until `pred` holds for the export requests received so far; see
    /// [`wait_for_spans`](Receiver::wait_for_spans).
    pub async fn wait_for_requests(
        &self,
        pred: impl Fn(&[RequestInfo]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<RequestInfo>, WaitTimeout> {
        self.inner.store.wait_for("requests", Store::requests, pred, timeout).await
    }

    /// Stops both servers: the listeners close at once, open connections get
    /// a short grace period to finish, then the server tasks are aborted.
    ///
    /// This stops the servers for every clone of this receiver; the store
    /// stays readable through other clones.
    pub async fn shutdown(self) {
        let _ = self.inner.stop.send(true);
        let tasks = std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for mut task in tasks {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err() {
                task.abort();
                let _ = task.await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_to_ephemeral_loopback() {
        let config = ReceiverConfig::default();
        assert_eq!(config, ReceiverConfig::localhost(0, 0));
        assert!(config.grpc_addr.ip().is_loopback());
        assert_eq!(config.http_addr.port(), 0);
    }

    #[test]
    fn endpoints_replace_unspecified_hosts() {
        assert_eq!(endpoint("0.0.0.0:4317".parse().unwrap(), false), "http://127.0.0.1:4317");
        assert_eq!(endpoint("[::]:4318".parse().unwrap(), false), "http://[::1]:4318");
        assert_eq!(endpoint("127.0.0.2:1234".parse().unwrap(), false), "http://127.0.0.2:1234");
        assert_eq!(endpoint("0.0.0.0:4317".parse().unwrap(), true), "https://127.0.0.1:4317");
    }
}
