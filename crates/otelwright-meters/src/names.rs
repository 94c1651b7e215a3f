//! Every metric name, unit and attribute key this crate emits, spelled once.
//!
//! Names follow the OpenTelemetry semantic conventions (process, system, `db.client.connection.*`). Caches have no
//! convention; the `cache.*` names here are otelwright's own and are documented in the crate README. Nothing
//! else in the crate spells a metric name or attribute key as a literal.

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

/// Attribute keys and their values.
pub mod attr {
    /// `cpu.mode`: `user`, `system`.
    pub const CPU_MODE: &str = "cpu.mode";
    /// `disk.io.direction`: `read`, `write`.
    pub const DISK_IO_DIRECTION: &str = "disk.io.direction";
    /// `system.device`.
    pub const SYSTEM_DEVICE: &str = "system.device";
    /// `process.state`: `running`, `sleeping`, `stopped`, `defunct` (it replaced the deprecated
    /// `system.process.status`).
    pub const PROCESS_STATE: &str = "process.state";
    /// `system.memory.state`: `used`, `free`.
    pub const SYSTEM_MEMORY_STATE: &str = "system.memory.state";
    /// `system.filesystem.state`: `used`, `free`.
    pub const SYSTEM_FILESYSTEM_STATE: &str = "system.filesystem.state";
    /// `system.filesystem.type`.
    pub const SYSTEM_FILESYSTEM_TYPE: &str = "system.filesystem.type";
    /// `system.filesystem.mountpoint`.
    pub const SYSTEM_FILESYSTEM_MOUNTPOINT: &str = "system.filesystem.mountpoint";
    /// `db.client.connection.pool.name`.
    pub const POOL_NAME: &str = "db.client.connection.pool.name";
    /// `db.client.connection.state`: `idle`, `used`.
    pub const POOL_STATE: &str = "db.client.connection.state";
    /// `cache.name`.
    pub const CACHE_NAME: &str = "cache.name";
    /// `cache.result`: `hit`, `miss`.
    pub const CACHE_RESULT: &str = "cache.result";
    /// `cache.operation`: `set`, `delete`.
    pub const CACHE_OPERATION: &str = "cache.operation";
    /// `error.type` (semconv): why a session failed.
    pub const ERROR_TYPE: &str = "error.type";
}
