//! The profile cache: Redis when `REDIS_URL` is set, an in-process moka cache otherwise, both metered as cache
//! `users` (`cache.requests{cache.result=hit|miss}`, `cache.operations`, `cache.errors`, ...).
//!
//! - moka: [`MeteredFutureCache`] counts hits, misses, sets and evictions itself.
//! - Redis: the application counts its own reads and writes with a [`CacheMeter`] (cache `users`), and
//!   [`RedisCacheStats`] polls the server's `INFO` (cache `redis`: keyspace hits and misses of the whole server).
//!
//! Each read and write is a span (`cache.get users`, `cache.set users`) with `cache.name` and, on reads,
//! `cache.result`; Redis calls are CLIENT spans with `db.system.name = redis` and `server.address`/`server.port`.
//! A cache that fails never fails the request: the error is counted and logged, and the caller goes to the
//! database.

use std::time::Duration;

use anyhow::Context as _;
use otelwright::meters::cache::moka::MeteredFutureCache;
use otelwright::meters::cache::redis::RedisCacheStats;
use otelwright::meters::{CacheMeter, CacheMeters};
use redis::aio::MultiplexedConnection;
use tracing::Instrument as _;

use super::db::Profile;

/// How long a cached profile lives.
const TTL: Duration = Duration::from_secs(30);
const NAME: &str = "users";

/// The profile cache.
#[derive(Clone)]
pub(crate) enum Profiles {
    /// In-process.
    Local(MeteredFutureCache<String, Profile>),
    /// Redis, shared by every instance.
    Redis(RedisProfiles),
}

#[derive(Clone)]
pub(crate) struct RedisProfiles {
    conn: MultiplexedConnection,
    meter: CacheMeter,
    address: String,
    port: i64,
    /// The server's `INFO` poller; runs while a clone is held.
    stats: RedisCacheStats,
}

impl std::fmt::Debug for Profiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.backend())
    }
}

impl Profiles {
    /// Connects to Redis when `redis_url` is given, else builds the moka cache; registers the meters.
    pub(crate) async fn connect(redis_url: Option<&str>, caches: &CacheMeters) -> anyhow::Result<Profiles> {
        let Some(url) = redis_url else {
            let builder = moka::future::Cache::builder().max_capacity(10_000).time_to_live(TTL);
            return Ok(Profiles::Local(MeteredFutureCache::build(caches, NAME, builder)));
        };
        let parsed = url::Url::parse(url).with_context(|| format!("REDIS_URL {url:?} is not a URL"))?;
        let client = redis::Client::open(url).context("REDIS_URL")?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(1)));
        let conn = client.get_multiplexed_async_connection_with_config(&config).await.context("connecting to Redis")?;
        let meter = caches.meter(NAME);
        let stats = RedisCacheStats::spawn(client, Duration::from_secs(5))?;
        caches.add("redis", stats.clone());
        caches.set_default(NAME);
        Ok(Profiles::Redis(RedisProfiles {
            conn,
            meter,
            address: parsed.host_str().unwrap_or("localhost").to_owned(),
            port: i64::from(parsed.port().unwrap_or(6379)),
            stats,
        }))
    }

    /// `moka` or `redis`.
    pub(crate) fn backend(&self) -> &'static str {
        match self {
            Profiles::Local(_) => "moka",
            Profiles::Redis(_) => "redis",
        }
    }

    /// The Redis `INFO` poller, for the readiness check.
    pub(crate) fn redis_stats(&self) -> Option<RedisCacheStats> {
        match self {
            Profiles::Local(_) => None,
            Profiles::Redis(r) => Some(r.stats.clone()),
        }
    }

    /// The cached profile of `id`, counting a hit or a miss. A Redis error counts as an error and a miss.
    pub(crate) async fn get(&self, id: &str) -> Option<Profile> {
        let span = self.span("cache.get users", "GET");
        let found = async {
            match self {
                Profiles::Local(cache) => cache.get(id).await,
                Profiles::Redis(r) => {
                    let answer: redis::RedisResult<Option<String>> =
                        redis::cmd("GET").arg(key(id)).query_async(&mut r.conn.clone()).await;
                    match answer {
                        Ok(text) => {
                            let profile = text.and_then(|t| serde_json::from_str(&t).ok());
                            r.meter.read(profile.is_some());
                            profile
                        }
                        Err(e) => {
                            r.meter.error();
                            r.meter.miss();
                            tracing::warn!(error = %e, "redis GET failed; reading the database");
                            None
                        }
                    }
                }
            }
        }
        .instrument(span.clone())
        .await;
        span.record("cache.result", if found.is_some() { "hit" } else { "miss" });
        found
    }

    /// Caches `profile` for [`TTL`].
    pub(crate) async fn put(&self, profile: &Profile) {
        let span = self.span("cache.set users", "SET");
        async {
            match self {
                Profiles::Local(cache) => cache.insert(profile.id.clone(), profile.clone()).await,
                Profiles::Redis(r) => {
                    let text = serde_json::to_string(profile).unwrap_or_default();
                    let answer: redis::RedisResult<()> = redis::cmd("SET")
                        .arg(key(&profile.id))
                        .arg(text)
                        .arg("EX")
                        .arg(TTL.as_secs())
                        .query_async(&mut r.conn.clone())
                        .await;
                    match answer {
                        Ok(()) => r.meter.set(),
                        Err(e) => {
                            r.meter.error();
                            tracing::warn!(error = %e, "redis SET failed; the profile stays uncached");
                        }
                    }
                }
            }
        }
        .instrument(span)
        .await;
    }

    fn span(&self, name: &'static str, command: &'static str) -> tracing::Span {
        let span = tracing::info_span!(
            "cache",
            otel.name = name,
            otel.kind = tracing::field::Empty,
            cache.name = NAME,
            cache.result = tracing::field::Empty,
            db.system.name = tracing::field::Empty,
            db.operation.name = tracing::field::Empty,
            db.query.text = tracing::field::Empty,
            server.address = tracing::field::Empty,
            server.port = tracing::field::Empty,
        );
        if let Profiles::Redis(r) = self {
            span.record("otel.kind", "client");
            span.record("db.system.name", "redis");
            span.record("db.operation.name", command);
            span.record("db.query.text", format!("{command} health-agent:user:?"));
            span.record("server.address", r.address.as_str());
            span.record("server.port", r.port);
        }
        span
    }
}

fn key(id: &str) -> String {
    format!("health-agent:user:{id}")
}
