//! otelwright-meters end to end, as one test binary: caches (moka, Redis), connection pools (sqlx on SQLite and
//! PostgreSQL, deadpool, bb8) and process/system resources, each exported through a real pipeline into the
//! receiver. Each module is one file of checks.

mod caches;
mod pools;
mod resources;
