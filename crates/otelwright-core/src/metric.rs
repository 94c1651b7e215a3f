//! The name of every metric an otelwright crate emits, spelled once, one module per area. Emitting crates build
//! their instruments with these constants; readers (health's request window, the dashboards test, the CLI) match
//! on the same ones.
//!
//! Names follow the OpenTelemetry semantic conventions where one exists (HTTP, RPC, process, system,
//! `db.client.connection.*`); `function.*`, `cache.*`, `session.*` and `otelwright.*` are otelwright's own and are
//! documented in ARCHITECTURE.md and the crate READMEs. Units and descriptions stay beside each instrument.

/// HTTP metric names (semconv "Semantic conventions for HTTP metrics").
pub mod http {
    /// Histogram, `s`: duration of HTTP server requests (`http.server.request.duration`, stable).
    pub const SERVER_REQUEST_DURATION: &str = "http.server.request.duration";
    /// UpDownCounter, `{request}`: requests in flight (`http.server.active_requests`).
    pub const SERVER_ACTIVE_REQUESTS: &str = "http.server.active_requests";
    /// Histogram, `By`: request body sizes (`http.server.request.body.size`).
    pub const SERVER_REQUEST_BODY_SIZE: &str = "http.server.request.body.size";
    /// Histogram, `By`: response body sizes (`http.server.response.body.size`).
    pub const SERVER_RESPONSE_BODY_SIZE: &str = "http.server.response.body.size";
    /// Histogram, `s`: duration of HTTP client requests (`http.client.request.duration`, stable).
    pub const CLIENT_REQUEST_DURATION: &str = "http.client.request.duration";
}

/// RPC metric names (semconv "Semantic conventions for RPC metrics").
pub mod rpc {
    /// Histogram, `s`: duration of inbound RPCs (`rpc.server.call.duration`).
    pub const SERVER_CALL_DURATION: &str = "rpc.server.call.duration";
    /// Histogram, `s`: duration of outbound RPCs (`rpc.client.call.duration`).
    pub const CLIENT_CALL_DURATION: &str = "rpc.client.call.duration";
}

/// The metrics `#[measured]` records (otelwright's own).
pub mod function {
    /// Counter, `{call}`: one per completed, failed or cancelled call.
    pub const CALLS: &str = "function.calls";
    /// Histogram, `s`: the duration of each call.
    pub const CALLS_DURATION: &str = "function.calls.duration";
    /// UpDownCounter, `{call}`: calls in progress of functions measured with `#[measured(in_flight)]`.
    pub const CALLS_ACTIVE: &str = "function.calls.active";
}

/// otelwright's own health as an exporter.
pub mod exporter {
    /// Counter, `{item}`, by `otel.signal` and `outcome`: items exported, dropped (queue full) or failed.
    pub const ITEMS: &str = "otelwright.exporter.items";
}

/// Process metric names (semconv `process.*`).
pub mod process {
    /// Counter, `s`, by `cpu.mode`.
    pub const CPU_TIME: &str = "process.cpu.time";
    /// Gauge, `1`, by `cpu.mode`: Δcpu.time ÷ (elapsed × CPUs available).
    pub const CPU_UTILIZATION: &str = "process.cpu.utilization";
    /// UpDownCounter, `By`: resident set size.
    pub const MEMORY_USAGE: &str = "process.memory.usage";
    /// UpDownCounter, `By`: virtual memory size.
    pub const MEMORY_VIRTUAL: &str = "process.memory.virtual";
    /// UpDownCounter, `{thread}`.
    pub const THREAD_COUNT: &str = "process.thread.count";
    /// UpDownCounter, `{file_descriptor}`.
    pub const FILE_DESCRIPTOR_COUNT: &str = "process.unix.file_descriptor.count";
    /// Counter, `By`, by `disk.io.direction`.
    pub const DISK_IO: &str = "process.disk.io";
    /// Gauge, `s`.
    pub const UPTIME: &str = "process.uptime";
}

/// System metric names (semconv `system.*`, plus the Collector's load-average gauges).
pub mod system {
    /// Gauge, `1`: non-idle share of the CPUs available (the cgroup quota when one is set).
    pub const CPU_UTILIZATION: &str = "system.cpu.utilization";
    /// UpDownCounter, `By`, by `system.memory.state`.
    pub const MEMORY_USAGE: &str = "system.memory.usage";
    /// Gauge, `1`, by `system.memory.state`.
    pub const MEMORY_UTILIZATION: &str = "system.memory.utilization";
    /// UpDownCounter, `By`: the cgroup memory limit (only when one is set).
    pub const MEMORY_LIMIT: &str = "system.memory.limit";
    /// Counter, `By`, by `system.device` and `disk.io.direction`.
    pub const DISK_IO: &str = "system.disk.io";
    /// UpDownCounter, `By`, by device, state, type and mount point.
    pub const FILESYSTEM_USAGE: &str = "system.filesystem.usage";
    /// Gauge, `{thread}`.
    pub const LOAD_AVERAGE_1M: &str = "system.cpu.load_average.1m";
    /// `system.process.count`, UpDownCounter, `{process}`, by `process.state` (semantic conventions, system
    /// metrics, "Metric: `system.process.count`": "Total number of processes in each state").
    pub const PROCESS_COUNT: &str = "system.process.count";
    /// Gauge, `{thread}`.
    pub const LOAD_AVERAGE_5M: &str = "system.cpu.load_average.5m";
    /// Gauge, `{thread}`.
    pub const LOAD_AVERAGE_15M: &str = "system.cpu.load_average.15m";
}

/// Connection-pool metric names (semconv `db.client.connection.*`).
pub mod pool {
    /// UpDownCounter, `{connection}`, by `db.client.connection.state`.
    pub const COUNT: &str = "db.client.connection.count";
    /// UpDownCounter, `{connection}`.
    pub const MAX: &str = "db.client.connection.max";
    /// UpDownCounter, `{connection}`.
    pub const IDLE_MAX: &str = "db.client.connection.idle.max";
    /// UpDownCounter, `{connection}`.
    pub const IDLE_MIN: &str = "db.client.connection.idle.min";
    /// UpDownCounter, `{request}`.
    pub const PENDING_REQUESTS: &str = "db.client.connection.pending_requests";
    /// Counter, `{timeout}`.
    pub const TIMEOUTS: &str = "db.client.connection.timeouts";
    /// Histogram, `s`.
    pub const WAIT_TIME: &str = "db.client.connection.wait_time";
    /// Histogram, `s`.
    pub const USE_TIME: &str = "db.client.connection.use_time";
}

/// Cache metric names (otelwright's own: semconv has none).
pub mod cache {
    /// Counter, `{request}`, by `cache.result`.
    pub const REQUESTS: &str = "cache.requests";
    /// Counter, `{operation}`, by `cache.operation`.
    pub const OPERATIONS: &str = "cache.operations";
    /// Counter, `{error}`.
    pub const ERRORS: &str = "cache.errors";
    /// Counter, `{eviction}`.
    pub const EVICTIONS: &str = "cache.evictions";
    /// UpDownCounter, `{entry}`.
    pub const ENTRY_COUNT: &str = "cache.entry.count";
    /// Gauge, `1`: hits ÷ (hits + misses) since the source started counting.
    pub const HIT_RATIO: &str = "cache.hit_ratio";
}

/// Session metric names (otelwright's own: semconv has none).
pub mod session {
    /// UpDownCounter, `{session}`: application sessions open now.
    pub const ACTIVE: &str = "session.active";
    /// Histogram, `s`: how long each session lasted (`error.type` when it failed).
    pub const DURATION: &str = "session.duration";
}

/// WebSocket server metric names (otelwright's own, feature `axum-ws` of otelwright-http: semconv has none).
pub mod websocket {
    /// Up-down counter, `{connection}`: WebSocket connections open now.
    pub const ACTIVE_CONNECTIONS: &str = "websocket.server.active_connections";
    /// Histogram, `s`: how long each connection stayed open, from the upgrade to the close.
    pub const CONNECTION_DURATION: &str = "websocket.server.connection.duration";
    /// Counter, `{message}`: messages by `websocket.message.direction` and `websocket.message.type`.
    pub const MESSAGES: &str = "websocket.server.messages";
    /// Histogram, `By`: message payload sizes by direction and type.
    pub const MESSAGE_SIZE: &str = "websocket.server.message.size";
}

/// Readiness metric names (otelwright's own, otelwright-health: semconv has none).
pub mod health {
    /// Gauge, `{check}`, by `health.check.name` and `health.check.critical`: 1 while the check passes, 0 while it
    /// fails, as of the latest readiness run.
    pub const CHECK_STATUS: &str = "health.check.status";
}

/// Database client metric names (semconv, database metrics).
pub mod db {
    /// Histogram, `s`: duration of database client operations (`db.client.operation.duration`).
    pub const CLIENT_OPERATION_DURATION: &str = "db.client.operation.duration";
}
