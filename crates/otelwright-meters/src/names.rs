//! Every metric name and attribute key this crate emits, spelled once: the metric names are the workspace's one
//! definition in [`otelwright_core::metric`], re-exported here; the attribute keys are this crate's.
//!
//! Names follow the OpenTelemetry semantic conventions (process, system, `db.client.connection.*`). Caches have no
//! convention; the `cache.*` names here are otelwright's own and are documented in the crate README. Nothing
//! else in the crate spells a metric name or attribute key as a literal.

pub use otelwright_core::metric::{cache, pool, process, session, system};

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
