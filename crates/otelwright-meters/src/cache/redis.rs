//! Redis adapter (feature `redis`): [`RedisCacheStats`] polls `INFO stats`, `INFO keyspace` and
//! `INFO commandstats` from a background tokio task and serves the last answer to the metric callbacks, which
//! never touch the network.
//!
//! Redis counts per server, not per client: register one Redis server as one cache. Mapping: hits and misses
//! are `keyspace_hits`/`keyspace_misses`; evictions are `evicted_keys + expired_keys`; errors are
//! `total_error_replies` (Redis 6.2+); entries are the keys of every database in `INFO keyspace`; sets are the
//! calls of `set`, `setex`, `psetex`, `setnx`, `getset`, `mset`, `msetnx`; deletes are `del`, `unlink`, `getdel`.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use serde::Serialize;

use super::{CacheCounts, CacheStats};
use crate::source::SourceError;

const SET_COMMANDS: [&str; 7] = ["set", "setex", "psetex", "setnx", "getset", "mset", "msetnx"];
const DELETE_COMMANDS: [&str; 3] = ["del", "unlink", "getdel"];

/// The numbers one poll read from Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RedisInfo {
    /// `keyspace_hits`.
    pub keyspace_hits: u64,
    /// `keyspace_misses`.
    pub keyspace_misses: u64,
    /// `evicted_keys`.
    pub evicted_keys: u64,
    /// `expired_keys`.
    pub expired_keys: u64,
    /// `total_error_replies` (absent before Redis 6.2).
    pub total_error_replies: Option<u64>,
    /// Sum of `keys=` over the databases in `INFO keyspace`.
    pub keys: u64,
    /// Calls of the set-family commands (absent when `INFO commandstats` is not answered).
    pub set_calls: Option<u64>,
    /// Calls of `del`, `unlink` and `getdel`.
    pub delete_calls: Option<u64>,
}

impl RedisInfo {
    /// Parses the text of `INFO stats`, `INFO keyspace` and `INFO commandstats` (any order, concatenated).
    pub fn parse(text: &str) -> Result<RedisInfo, SourceError> {
        let mut info = RedisInfo::default();
        let (mut hits, mut misses, mut commandstats) = (None, None, false);
        let (mut sets, mut deletes) = (0u64, 0u64);
        for line in text.lines().map(str::trim) {
            let Some((key, value)) = line.split_once(':') else { continue };
            let number = || value.trim().parse::<u64>().ok();
            match key {
                "keyspace_hits" => hits = number(),
                "keyspace_misses" => misses = number(),
                "evicted_keys" => info.evicted_keys = number().unwrap_or(0),
                "expired_keys" => info.expired_keys = number().unwrap_or(0),
                "total_error_replies" => info.total_error_replies = number(),
                db if db.len() > 2 && db.starts_with("db") && db[2..].bytes().all(|b| b.is_ascii_digit()) => {
                    info.keys += field(value, "keys").unwrap_or(0);
                }
                cmd if cmd.starts_with("cmdstat_") => {
                    commandstats = true;
                    let name = &cmd["cmdstat_".len()..];
                    let calls = field(value, "calls").unwrap_or(0);
                    if SET_COMMANDS.contains(&name) {
                        sets += calls;
                    } else if DELETE_COMMANDS.contains(&name) {
                        deletes += calls;
                    }
                }
                _ => {}
            }
        }
        if hits.is_none() || misses.is_none() {
            return Err(SourceError::failed("INFO stats has no keyspace_hits/keyspace_misses"));
        }
        info.keyspace_hits = hits.unwrap_or(0);
        info.keyspace_misses = misses.unwrap_or(0);
        if commandstats || text.contains("# Commandstats") {
            info.set_calls = Some(sets);
            info.delete_calls = Some(deletes);
        }
        Ok(info)
    }

    /// The counts exported for this Redis.
    pub fn counts(&self) -> CacheCounts {
        CacheCounts {
            hits: self.keyspace_hits,
            misses: self.keyspace_misses,
            sets: self.set_calls,
            deletes: self.delete_calls,
            errors: self.total_error_replies,
            evictions: Some(self.evicted_keys.saturating_add(self.expired_keys)),
            entries: Some(self.keys),
        }
    }
}

/// `name=<u64>` out of a comma-separated `k=v` list.
fn field(list: &str, name: &str) -> Option<u64> {
    list.split(',').find_map(|kv| kv.split_once('=').filter(|(k, _)| k.trim() == name)?.1.trim().parse().ok())
}

#[derive(Debug, Default)]
struct Latest {
    info: Option<RedisInfo>,
    error: Option<String>,
}

struct Shared {
    latest: Mutex<Latest>,
    client: redis::Client,
    timeout: Duration,
    connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

impl Shared {
    fn store(&self, result: Result<RedisInfo, String>) {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(info) => *latest = Latest { info: Some(info), error: None },
            Err(e) => latest.error = Some(e),
        }
    }

    async fn poll(&self) -> Result<RedisInfo, String> {
        let work = async {
            let mut slot = self.connection.lock().await;
            if slot.is_none() {
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout));
                *slot = Some(self.client.get_multiplexed_async_connection_with_config(&config).await?);
            }
            let conn = slot.as_mut().expect("connection was just set");
            let answer: redis::RedisResult<(String, String, String)> = redis::pipe()
                .cmd("INFO")
                .arg("stats")
                .cmd("INFO")
                .arg("keyspace")
                .cmd("INFO")
                .arg("commandstats")
                .query_async(conn)
                .await;
            if answer.is_err() {
                *slot = None; // reconnect next time
            }
            answer.map(|(a, b, c)| format!("{a}\n{b}\n{c}"))
        };
        let text = match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(text)) => text,
            Ok(Err(e)) => return Err(format!("redis INFO failed: {e}")),
            Err(_) => return Err(format!("redis INFO timed out after {:?}", self.timeout)),
        };
        RedisInfo::parse(&text).map_err(|e| e.to_string())
    }
}

struct Owner {
    shared: Arc<Shared>,
    task: tokio::task::AbortHandle,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A [`CacheStats`] source for one Redis server, kept fresh by a background tokio task. Clones share the task,
/// which stops when the last clone (including the one registered in [`super::CacheMeters`]) is dropped.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use otelwright_meters::{CacheMeters, cache::redis::RedisCacheStats};
/// let caches = CacheMeters::new();
/// let client = redis::Client::open("redis://127.0.0.1:6379")?;
/// let redis = RedisCacheStats::spawn(client, Duration::from_secs(10))?;
/// caches.add("redis", redis.clone());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisCacheStats {
    owner: Arc<Owner>,
}

impl std::fmt::Debug for RedisCacheStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCacheStats").field("latest", &self.latest()).finish()
    }
}

impl RedisCacheStats {
    /// Starts polling `client` every `interval` (each poll times out after `interval` clamped to 1..5 s) on the current
    /// tokio runtime. Fails only when called outside a tokio runtime.
    pub fn spawn(client: redis::Client, interval: Duration) -> Result<Self, tokio::runtime::TryCurrentError> {
        let runtime = tokio::runtime::Handle::try_current()?;
        let interval = interval.max(Duration::from_millis(10));
        let shared = Arc::new(Shared {
            latest: Mutex::new(Latest::default()),
            client,
            timeout: interval.clamp(Duration::from_secs(1), Duration::from_secs(5)),
            connection: tokio::sync::Mutex::new(None),
        });
        let weak: Weak<Shared> = Arc::downgrade(&shared);
        let task = runtime.spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let Some(shared) = weak.upgrade() else { return };
                let result = shared.poll().await;
                shared.store(result);
            }
        });
        Ok(RedisCacheStats { owner: Arc::new(Owner { shared, task: task.abort_handle() }) })
    }

    /// Polls now (outside the schedule) and stores the answer; for tests and for a readiness check.
    pub async fn poll_now(&self) -> Result<RedisInfo, SourceError> {
        let result = self.owner.shared.poll().await;
        self.owner.shared.store(result.clone());
        result.map_err(SourceError::Failed)
    }

    /// The last successful poll.
    pub fn latest(&self) -> Option<RedisInfo> {
        self.owner.shared.latest.lock().unwrap_or_else(PoisonError::into_inner).info
    }
}

impl CacheStats for RedisCacheStats {
    fn stats(&self) -> Result<CacheCounts, SourceError> {
        let latest = self.owner.shared.latest.lock().unwrap_or_else(PoisonError::into_inner);
        match (&latest.error, &latest.info) {
            (Some(e), _) => Err(SourceError::Failed(e.clone())),
            (None, Some(info)) => Ok(info.counts()),
            (None, None) => Err(SourceError::NotReady),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "# Stats\r\ntotal_connections_received:3\r\nexpired_keys:2\r\nevicted_keys:1\r\n\
        keyspace_hits:40\r\nkeyspace_misses:10\r\ntotal_error_replies:4\r\n\r\n# Keyspace\r\n\
        db0:keys=7,expires=1,avg_ttl=0\r\ndb3:keys=5,expires=0,avg_ttl=0\r\n\r\n# Commandstats\r\n\
        cmdstat_set:calls=12,usec=40,usec_per_call=3.33,rejected_calls=0,failed_calls=0\r\n\
        cmdstat_setex:calls=3,usec=9,usec_per_call=3.00,rejected_calls=0,failed_calls=0\r\n\
        cmdstat_get:calls=50,usec=90,usec_per_call=1.80,rejected_calls=0,failed_calls=0\r\n\
        cmdstat_del:calls=6,usec=9,usec_per_call=1.50,rejected_calls=0,failed_calls=0\r\n\
        cmdstat_unlink:calls=1,usec=1,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n";

    #[test]
    fn parses_info_sections() {
        let info = RedisInfo::parse(INFO).unwrap();
        assert_eq!((info.keyspace_hits, info.keyspace_misses), (40, 10));
        assert_eq!((info.evicted_keys, info.expired_keys, info.total_error_replies), (1, 2, Some(4)));
        assert_eq!(info.keys, 12);
        assert_eq!((info.set_calls, info.delete_calls), (Some(15), Some(7)));
        let c = info.counts();
        assert_eq!((c.evictions, c.entries, c.errors), (Some(3), Some(12), Some(4)));
    }

    #[test]
    fn rejects_answers_without_stats() {
        assert!(RedisInfo::parse("").is_err());
        assert!(RedisInfo::parse("# Keyspace\r\ndb0:keys=1").is_err());
        let no_commandstats = RedisInfo::parse("keyspace_hits:1\nkeyspace_misses:2\n").unwrap();
        assert_eq!((no_commandstats.set_calls, no_commandstats.total_error_replies), (None, None));
    }
}
