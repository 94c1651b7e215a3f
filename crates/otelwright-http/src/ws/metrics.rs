//! The `websocket.server.*` instruments, their names and attribute sets. The semantic conventions define no
//! WebSocket metrics; these names are otelwright's own, in the conventions' style (`{area}.server.{thing}`,
//! `active_*` up-down counters, seconds and bytes as units, `network.protocol.name` for the protocol). Every
//! attribute set is bound once per route and shared by its connections (the per-message sets on their first use):
//! recording a message builds no attributes and looks nothing up.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use opentelemetry::metrics::{
    BoundCounter, BoundHistogram, BoundUpDownCounter, Counter, Histogram, Meter, UpDownCounter,
};
use opentelemetry::{KeyValue, StringValue, Value};

use crate::metrics::BoundCache;

pub use otelwright_core::metric::websocket::{ACTIVE_CONNECTIONS, CONNECTION_DURATION, MESSAGE_SIZE, MESSAGES};
/// `receive` or `transmit`, the values of the conventions' `network.io.direction`.
pub const MESSAGE_DIRECTION: &str = "websocket.message.direction";
/// `text`, `binary`, `ping`, `pong` or `close` (RFC 6455 §5.2 opcodes).
pub const MESSAGE_TYPE: &str = "websocket.message.type";

/// Connection durations: WebSockets live from seconds to hours.
const CONNECTION_BUCKETS: [f64; 12] = otelwright_core::buckets::LONG_DURATION;
/// Message sizes in bytes: powers of four from 64 B to 1 MiB.
const SIZE_BUCKETS: [f64; 8] = [64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262_144.0, 1_048_576.0];

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Receive = 0,
    Transmit = 1,
}

impl Direction {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Direction::Receive => "receive",
            Direction::Transmit => "transmit",
        }
    }
}

/// The message types axum hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Text = 0,
    Binary = 1,
    Ping = 2,
    Pong = 3,
    Close = 4,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Binary => "binary",
            Kind::Ping => "ping",
            Kind::Pong => "pong",
            Kind::Close => "close",
        }
    }
}

/// The instruments, created once per server layer.
pub(crate) struct WsInstruments {
    active: UpDownCounter<i64>,
    duration: Histogram<f64>,
    messages: Counter<u64>,
    size: Histogram<u64>,
    bound: BoundCache<Option<Arc<str>>, Arc<WsBound>>,
}

impl std::fmt::Debug for WsInstruments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsInstruments").finish_non_exhaustive()
    }
}

impl WsInstruments {
    pub(crate) fn new(meter: &Meter) -> Self {
        WsInstruments {
            active: meter
                .i64_up_down_counter(ACTIVE_CONNECTIONS)
                .with_unit("{connection}")
                .with_description("Number of open WebSocket connections.")
                .build(),
            duration: meter
                .f64_histogram(CONNECTION_DURATION)
                .with_unit("s")
                .with_description("Duration of WebSocket connections, from the upgrade to the close.")
                .with_boundaries(CONNECTION_BUCKETS.to_vec())
                .build(),
            messages: meter
                .u64_counter(MESSAGES)
                .with_unit("{message}")
                .with_description("Number of WebSocket messages received and sent.")
                .build(),
            size: meter
                .u64_histogram(MESSAGE_SIZE)
                .with_unit("By")
                .with_description("Size of WebSocket message payloads.")
                .with_boundaries(SIZE_BUCKETS.to_vec())
                .build(),
            bound: BoundCache::default(),
        }
    }

    /// The handles for connections on `route`: bound on the route's first connection and shared after that; past
    /// the cache's limit, bound for this connection alone.
    pub(crate) fn bound(&self, route: &Option<Arc<str>>) -> Arc<WsBound> {
        self.bound.with(route, |r| Arc::new(self.bind(r)), Arc::clone).unwrap_or_else(|| Arc::new(self.bind(route)))
    }

    fn bind(&self, route: &Option<Arc<str>>) -> WsBound {
        let base = base_attributes(route);
        WsBound {
            active: self.active.bind(&base),
            duration: self.duration.bind(&base),
            unbound_duration: self.duration.clone(),
            message_counter: self.messages.clone(),
            size_histogram: self.size.clone(),
            messages: Default::default(),
            base,
        }
    }
}

/// `http.route` (when the request matched one) and `network.protocol.name`.
fn base_attributes(route: &Option<Arc<str>>) -> Vec<KeyValue> {
    let mut attrs = Vec::with_capacity(4);
    if let Some(r) = route {
        attrs.push(KeyValue::new("http.route", Value::String(StringValue::from(r.clone()))));
    }
    // semconv `network.protocol.name`: "The OSI application layer or non-OSI equivalent", lowercase.
    attrs.push(KeyValue::new("network.protocol.name", "websocket"));
    attrs
}

/// `websocket.server.messages` and `websocket.server.message.size` bound to one direction and type.
type MessageHandles = (BoundCounter<u64>, BoundHistogram<u64>);

/// The instruments bound to one route's attribute sets.
pub(crate) struct WsBound {
    active: BoundUpDownCounter<i64>,
    duration: BoundHistogram<f64>,
    /// For a duration with `error.type` (once per failed connection, unbound).
    unbound_duration: Histogram<f64>,
    message_counter: Counter<u64>,
    size_histogram: Histogram<u64>,
    /// `(websocket.server.messages, websocket.server.message.size)` by direction and type, bound the first time
    /// the pair occurs on the route (bound up front, every route would export twenty points, most of them zero).
    messages: [[OnceLock<MessageHandles>; 5]; 2],
    base: Vec<KeyValue>,
}

impl WsBound {
    pub(crate) fn opened(&self) {
        self.active.add(1);
    }

    /// One message: the counter and the size histogram, through bound handles.
    #[inline]
    pub(crate) fn message(&self, dir: Direction, kind: Kind, bytes: u64) {
        let (count, size) = self.messages[dir as usize][kind as usize].get_or_init(|| {
            let mut attrs = self.base.clone();
            attrs.push(KeyValue::new(MESSAGE_DIRECTION, dir.as_str()));
            attrs.push(KeyValue::new(MESSAGE_TYPE, kind.as_str()));
            (self.message_counter.bind(&attrs), self.size_histogram.bind(&attrs))
        });
        count.add(1);
        size.record(bytes);
    }

    /// The connection ended: out of the active count, into the durations (with `error.type` when it failed).
    pub(crate) fn closed(&self, secs: f64, error_type: Option<&Cow<'static, str>>) {
        self.active.add(-1);
        match error_type {
            None => self.duration.record(secs),
            Some(e) => {
                let mut attrs = self.base.clone();
                attrs.push(KeyValue::new("error.type", Value::String(StringValue::from(e.clone()))));
                self.unbound_duration.record(secs, &attrs);
            }
        }
    }
}
