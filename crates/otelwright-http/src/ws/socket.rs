//! [`WebSocket`]: axum's socket with the connection's observation riding along. Opening it starts the connection
//! span and counts it active; each message received or sent bumps the span's counts and the bound message
//! metrics; dropping it — after a close, an error, or with the connection still open — ends the span and records
//! the duration exactly once.

use std::borrow::Cow;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, ready};
use std::time::Instant;

use axum::extract::ws::{self as axum_ws, CloseFrame, Message, Utf8Bytes};
use futures_util::stream::FusedStream;
use futures_util::{Sink, SinkExt, Stream, StreamExt as _};
use http::HeaderValue;
use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue, StringValue, Value};

use super::Upgrade;
use super::metrics::{Direction, Kind, MESSAGE_DIRECTION, MESSAGE_TYPE, WsBound};

/// A WebSocket connection: axum's [`WebSocket`](axum_ws::WebSocket) with the same methods and the same `Stream`
/// and `Sink` implementations (so `split()` works as before), observed from the upgrade until it is dropped.
pub struct WebSocket {
    inner: axum_ws::WebSocket,
    conn: Option<Connection>,
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket").field("inner", &self.inner).field("observed", &self.conn.is_some()).finish()
    }
}

/// The first close frame of the connection, either way.
struct Close {
    code: u16,
    reason: Utf8Bytes,
    by: Direction,
}

/// One connection's observation.
struct Connection {
    cx: Context,
    traced: bool,
    events: bool,
    metrics: Option<Arc<WsBound>>,
    start: Instant,
    /// Messages by [`Direction`].
    counts: [u64; 2],
    close: Option<Close>,
    /// The first transport error, when it came before any close frame.
    failure: Option<&'static str>,
}

/// RFC 6455 §7.1.5: "If this Close control frame contains no status code, _The WebSocket Connection Close Code_
/// is considered to be 1005."
const NO_STATUS: u16 = 1005;
/// RFC 6455 §7.1.5: "If _The WebSocket Connection is Closed_ and no Close control frame was received by the
/// endpoint (such as could occur if the underlying transport connection is lost), _The WebSocket Connection Close
/// Code_ is considered to be 1006."
const ABNORMAL: u16 = 1006;

/// Close codes that say the server failed (IANA WebSocket Close Code Number Registry, RFC 6455 §7.4.1 and §11.7):
/// 1011 Internal Error, 1013 Try Again Later, 1014 Bad Gateway — the WebSocket counterparts of 500, 503 and 502,
/// which the HTTP conventions make `error.type` on a server span. Codes naming a client's fault (1002, 1003, 1007
/// to 1010) are no server error, as 4xx are not.
fn server_error(code: u16) -> bool {
    matches!(code, 1011 | 1013 | 1014)
}

/// Type and payload size of a message (a close frame's payload is its 2-byte code and the reason, RFC 6455 §5.5.1).
#[inline]
fn classify(msg: &Message) -> (Kind, u64) {
    let (kind, len) = match msg {
        Message::Text(t) => (Kind::Text, t.as_str().len()),
        Message::Binary(b) => (Kind::Binary, b.len()),
        Message::Ping(b) => (Kind::Ping, b.len()),
        Message::Pong(b) => (Kind::Pong, b.len()),
        Message::Close(f) => (Kind::Close, f.as_ref().map_or(0, |f| 2 + f.reason.as_str().len())),
    };
    (kind, len as u64)
}

/// A low-cardinality `error.type` for a socket error (tungstenite's error kinds).
fn error_type(err: &axum::Error) -> &'static str {
    use std::error::Error as _;
    use tungstenite::Error as E;
    match err.source().and_then(|e| e.downcast_ref::<E>()) {
        Some(E::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake)) => "reset_without_close",
        Some(E::Protocol(_)) => "protocol",
        Some(E::Io(_)) => "io",
        Some(E::Capacity(_)) => "capacity",
        Some(E::Utf8(_)) => "utf8",
        Some(E::ConnectionClosed | E::AlreadyClosed) => "closed",
        _ => "_OTHER",
    }
}

impl Connection {
    fn open(socket: &axum_ws::WebSocket, up: Upgrade) -> Option<Connection> {
        if !up.traced && !up.measured {
            return None;
        }
        let start = Instant::now();
        let traced = up.traced && up.shared.tracer.is_some();
        let cx = match (&up.shared.tracer, traced) {
            (Some(tracer), true) => {
                let name = match &up.route {
                    Some(r) => format!("websocket {r}"),
                    None => "websocket".to_owned(),
                };
                let mut attrs = Vec::with_capacity(3);
                if let Some(r) = &up.route {
                    attrs.push(KeyValue::new("http.route", Value::String(StringValue::from(r.clone()))));
                }
                attrs.push(KeyValue::new("network.protocol.name", "websocket"));
                if let Some(p) = socket.protocol().and_then(|p| p.to_str().ok()) {
                    attrs.push(KeyValue::new("websocket.subprotocol", p.to_owned()));
                }
                // INTERNAL, not SERVER: span-derived request rates and latencies (the collector's spanmetrics,
                // APM views) count SERVER spans as requests, and a connection open for minutes is not one.
                let span = tracer.build_with_context(
                    SpanBuilder::from_name(name).with_kind(SpanKind::Internal).with_attributes(attrs),
                    &up.parent,
                );
                up.parent.with_span(span)
            }
            _ => up.parent,
        };
        let metrics = if up.measured { up.shared.ws_instruments.as_ref().map(|i| i.bound(&up.route)) } else { None };
        if let Some(m) = &metrics {
            m.opened();
        }
        Some(Connection {
            cx,
            traced,
            events: traced && up.shared.ws_message_events,
            metrics,
            start,
            counts: [0; 2],
            close: None,
            failure: None,
        })
    }

    /// One message went `dir`.
    #[inline]
    fn message(&mut self, dir: Direction, kind: Kind, bytes: u64) {
        self.counts[dir as usize] += 1;
        if let Some(m) = &self.metrics {
            m.message(dir, kind, bytes);
        }
        if self.events {
            self.cx.span().add_event(
                "websocket.message",
                vec![
                    KeyValue::new(MESSAGE_DIRECTION, dir.as_str()),
                    KeyValue::new(MESSAGE_TYPE, kind.as_str()),
                    KeyValue::new("websocket.message.size", bytes as i64),
                ],
            );
        }
    }

    /// A close frame went `dir`; the first one says who closed and why.
    fn closing(&mut self, dir: Direction, frame: Option<&CloseFrame>) {
        if self.close.is_none() {
            self.close = Some(Close {
                code: frame.map_or(NO_STATUS, |f| f.code),
                reason: frame.map(|f| f.reason.clone()).unwrap_or_default(),
                by: dir,
            });
        }
    }

    fn failed(&mut self, err: &axum::Error) {
        if self.close.is_none() && self.failure.is_none() {
            self.failure = Some(error_type(err));
        }
    }

    fn finish(self) {
        let error: Option<Cow<'static, str>> = match &self.close {
            Some(c) if server_error(c.code) => Some(Cow::Owned(c.code.to_string())),
            Some(_) => None,
            // No close frame either way: the peer vanished or the socket failed (the first error says how), or
            // the handler dropped the socket while it was open.
            None => Some(Cow::Borrowed(self.failure.unwrap_or("dropped"))),
        };
        // Metrics first: once the span has been exported, the connection is out of the active count.
        if let Some(m) = &self.metrics {
            m.closed(self.start.elapsed().as_secs_f64(), error.as_ref());
        }
        if self.traced {
            let span = self.cx.span();
            let code = self.close.as_ref().map_or(ABNORMAL, |c| c.code);
            let mut attrs = vec![
                KeyValue::new("websocket.close.code", i64::from(code)),
                KeyValue::new("websocket.messages.received", self.counts[Direction::Receive as usize] as i64),
                KeyValue::new("websocket.messages.sent", self.counts[Direction::Transmit as usize] as i64),
            ];
            if let Some(c) = &self.close {
                let by = match c.by {
                    Direction::Receive => "client",
                    Direction::Transmit => "server",
                };
                attrs.push(KeyValue::new("websocket.close.initiator", by));
                if !c.reason.as_str().is_empty() {
                    attrs.push(KeyValue::new("websocket.close.reason", c.reason.as_str().to_owned()));
                }
            }
            if let Some(e) = &error {
                attrs.push(KeyValue::new("error.type", Value::String(StringValue::from(e.clone()))));
                span.set_status(Status::error(""));
            }
            span.set_attributes(attrs);
            span.end();
        }
    }
}

impl WebSocket {
    pub(crate) fn new(inner: axum_ws::WebSocket, observe: Option<Upgrade>) -> Self {
        let conn = observe.and_then(|up| Connection::open(&inner, up));
        WebSocket { inner, conn }
    }

    /// Receive another message; `None` once the connection has closed. As axum's
    /// [`recv`](axum_ws::WebSocket::recv).
    pub async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        self.next().await
    }

    /// Send a message. As axum's [`send`](axum_ws::WebSocket::send).
    pub async fn send(&mut self, msg: Message) -> Result<(), axum::Error> {
        SinkExt::send(self, msg).await
    }

    /// The selected subprotocol, if one was chosen. As axum's [`protocol`](axum_ws::WebSocket::protocol).
    pub fn protocol(&self) -> Option<&HeaderValue> {
        self.inner.protocol()
    }

    /// The context holding the connection's span (the current context when the connection is not observed): a
    /// parent for the spans of work done for this connection outside its handler.
    pub fn context(&self) -> Context {
        self.conn.as_ref().map_or_else(Context::current, |c| c.cx.clone())
    }
}

impl Drop for WebSocket {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.finish();
        }
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, axum::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let item = ready!(this.inner.poll_next_unpin(cx));
        if let Some(conn) = &mut this.conn {
            match &item {
                Some(Ok(msg)) => {
                    let (kind, bytes) = classify(msg);
                    conn.message(Direction::Receive, kind, bytes);
                    if let Message::Close(frame) = msg {
                        conn.closing(Direction::Receive, frame.as_ref());
                    }
                }
                Some(Err(e)) => conn.failed(e),
                None => {}
            }
        }
        Poll::Ready(item)
    }
}

impl FusedStream for WebSocket {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl Sink<Message> for WebSocket {
    type Error = axum::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        let result = ready!(this.inner.poll_ready_unpin(cx));
        this.note(&result);
        Poll::Ready(result)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        let this = self.get_mut();
        let Some(conn) = &mut this.conn else {
            return this.inner.start_send_unpin(item);
        };
        let (kind, bytes) = classify(&item);
        let close = match &item {
            Message::Close(frame) => Some(frame.clone()),
            _ => None,
        };
        match this.inner.start_send_unpin(item) {
            Ok(()) => {
                conn.message(Direction::Transmit, kind, bytes);
                if let Some(frame) = close {
                    conn.closing(Direction::Transmit, frame.as_ref());
                }
                Ok(())
            }
            Err(e) => {
                conn.failed(&e);
                Err(e)
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        let result = ready!(this.inner.poll_flush_unpin(cx));
        this.note(&result);
        Poll::Ready(result)
    }

    /// Closing the sink sends a close frame without a status code (tungstenite's `close(None)`) unless one was
    /// already sent or answered.
    fn poll_close(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        if let Some(conn) = &mut this.conn {
            conn.closing(Direction::Transmit, None);
        }
        let result = ready!(this.inner.poll_close_unpin(cx));
        this.note(&result);
        Poll::Ready(result)
    }
}

impl WebSocket {
    fn note(&mut self, result: &Result<(), axum::Error>) {
        if let (Some(conn), Err(e)) = (&mut self.conn, result) {
            conn.failed(e);
        }
    }
}
