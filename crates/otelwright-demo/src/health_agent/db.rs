//! The store: one sqlx pool (`AnyPool`: PostgreSQL when `DATABASE_URL` is set, an SQLite file otherwise),
//! registered with the pool meters as `main`, and a span per query by the database semantic conventions.
//!
//! sqlx emits no OpenTelemetry spans, so [`Db::traced`] wraps each query in a CLIENT span named
//! `{db.operation.name} {db.collection.name}` with `db.system.name`, `db.namespace`, `db.query.text` (the
//! parameterized statement, never the values), `db.operation.name`, `db.collection.name` and, for PostgreSQL,
//! `server.address`/`server.port`; a failed query sets `error.type` and the span's error status. Connections
//! come through [`PoolHandle::acquire`], which feeds `db.client.connection.wait_time` and `.use_time`.
//!
//! Each query also records the `db.client.operation.duration` histogram ([`QueryMetrics`]), whose attribute sets
//! are built once per query kind at connect time.

use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter};
use otelwright::meters::pool::sqlx::SqlxPool;
use otelwright::meters::{InUse, PoolHandle, PoolMeter};
use sqlx::any::{Any, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use tracing::Instrument as _;

/// A user profile, as stored and cached.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    /// The user id (`[A-Za-z0-9_-]{1,64}`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// The topic the user cares about most; the default topic of their chat messages.
    pub interest: String,
}

const SELECT_USER: &str = "SELECT id, name, interest FROM users WHERE id = $1";
const INSERT_USER: &str = "INSERT INTO users (id, name, interest) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING";
const INSERT_CONVERSATION: &str = "INSERT INTO conversations (user_id, message, topic, tokens, created_at_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id";

const USERS: &str =
    "CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, name TEXT NOT NULL, interest TEXT NOT NULL)";
const CONVERSATIONS_POSTGRES: &str = "CREATE TABLE IF NOT EXISTS conversations (id BIGSERIAL PRIMARY KEY, \
     user_id TEXT NOT NULL, message TEXT NOT NULL, topic TEXT NOT NULL, tokens BIGINT NOT NULL, created_at_ms BIGINT NOT NULL)";
const CONVERSATIONS_SQLITE: &str = "CREATE TABLE IF NOT EXISTS conversations (id INTEGER PRIMARY KEY AUTOINCREMENT, \
     user_id TEXT NOT NULL, message TEXT NOT NULL, topic TEXT NOT NULL, tokens BIGINT NOT NULL, created_at_ms BIGINT NOT NULL)";

/// The seeded users: ids `1` to `20`.
const NAMES: [&str; 10] = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Radia", "Ken"];
const INTERESTS: [&str; 4] = ["sleep", "fitness", "nutrition", "stress"];

/// The queries the service runs: what their spans and metric points say about them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Query {
    SelectUser,
    InsertConversation,
}

impl Query {
    const ALL: [Query; 2] = [Query::SelectUser, Query::InsertConversation];

    /// `db.operation.name`.
    fn operation(self) -> &'static str {
        match self {
            Query::SelectUser => "SELECT",
            Query::InsertConversation => "INSERT",
        }
    }

    /// `db.collection.name`.
    fn collection(self) -> &'static str {
        match self {
            Query::SelectUser => "users",
            Query::InsertConversation => "conversations",
        }
    }

    /// `db.query.text`: the parameterized statement.
    fn text(self) -> &'static str {
        match self {
            Query::SelectUser => SELECT_USER,
            Query::InsertConversation => INSERT_CONVERSATION,
        }
    }
}

/// The `error.type` values of [`error_type`], in the order [`QueryMetrics`] keeps their attribute sets.
const ERROR_TYPES: [&str; 7] = ["pool_timeout", "pool_closed", "io", "database", "row_not_found", "protocol", "sqlx"];

/// `db.client.operation.duration`, by the database client metrics conventions
/// (https://opentelemetry.io/docs/specs/semconv/database/database-metrics/, "Metric: db.client.operation.duration",
/// stable): a histogram in seconds with the advised bucket boundaries [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5,
/// 10]; attributes `db.system.name` (required), `db.namespace` (conditionally required: if available),
/// `db.operation.name` and `db.collection.name` (conditionally required: if readily available, a single operation
/// on a single collection), `error.type` (conditionally required: if and only if the operation failed),
/// `server.address` (recommended) and `server.port` (conditionally required when `server.address` is set and the
/// port is not the default; always set here, as on the span). Batch operations count as one operation.
///
/// Every attribute set a query can carry (per query kind: success and each `error.type`) is built at connect time,
/// so recording allocates nothing.
#[derive(Clone, Debug)]
struct QueryMetrics {
    duration: Histogram<f64>,
    /// Per [`Query::ALL`] entry: the success set, then one set per [`ERROR_TYPES`] entry.
    attributes: Vec<(Vec<KeyValue>, Vec<Vec<KeyValue>>)>,
}

impl QueryMetrics {
    fn new(meter: &Meter, system: &'static str, namespace: &str, server: Option<&(String, i64)>) -> Self {
        let duration = meter
            .f64_histogram(otelwright::metric::db::CLIENT_OPERATION_DURATION)
            .with_unit("s")
            .with_description("Duration of database client operations")
            .with_boundaries(vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0])
            .build();
        let attributes = Query::ALL
            .iter()
            .map(|q| {
                let mut base = vec![
                    KeyValue::new("db.system.name", system),
                    KeyValue::new("db.namespace", namespace.to_owned()),
                    KeyValue::new("db.operation.name", q.operation()),
                    KeyValue::new("db.collection.name", q.collection()),
                ];
                if let Some((host, port)) = server {
                    base.push(KeyValue::new("server.address", host.clone()));
                    base.push(KeyValue::new("server.port", *port));
                }
                let errors = ERROR_TYPES
                    .iter()
                    .map(|e| base.iter().cloned().chain([KeyValue::new("error.type", *e)]).collect())
                    .collect();
                (base, errors)
            })
            .collect();
        QueryMetrics { duration, attributes }
    }

    fn record(&self, query: Query, seconds: f64, error: Option<&'static str>) {
        let Some(i) = Query::ALL.iter().position(|q| *q == query) else { return };
        let (ok, errors) = &self.attributes[i];
        let attrs = match error {
            None => ok,
            Some(e) => match ERROR_TYPES.iter().position(|t| *t == e) {
                Some(j) => &errors[j],
                None => &errors[ERROR_TYPES.len() - 1],
            },
        };
        self.duration.record(seconds, attrs);
    }
}

/// The pool and what a span needs to describe it.
#[derive(Clone, Debug)]
pub(crate) struct Db {
    pool: PoolHandle<SqlxPool<Any>>,
    system: &'static str,
    namespace: String,
    server: Option<(String, i64)>,
    metrics: QueryMetrics,
}

impl Db {
    /// Connects (PostgreSQL for `postgres://` URLs, SQLite otherwise), registers the pool as `main`, creates
    /// the tables and seeds the users. Query durations are recorded on `meter`.
    pub(crate) async fn connect(url: &str, pools: &PoolMeter, meter: &Meter) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let parsed = url::Url::parse(url).with_context(|| format!("DATABASE_URL {url:?} is not a URL"))?;
        let postgres = matches!(parsed.scheme(), "postgres" | "postgresql");
        let (system, namespace, server) = if postgres {
            let host = parsed.host_str().unwrap_or("localhost").to_owned();
            let port = i64::from(parsed.port().unwrap_or(5432));
            ("postgresql", parsed.path().trim_start_matches('/').to_owned(), Some((host, port)))
        } else {
            ("sqlite", parsed.path().rsplit('/').next().unwrap_or("main").to_owned(), None)
        };
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect(url)
            .await
            .with_context(|| format!("connecting to the {system} database"))?;
        let metrics = QueryMetrics::new(meter, system, &namespace, server.as_ref());
        let db = Db { pool: pools.add("main", SqlxPool::new(pool)), system, namespace, server, metrics };
        db.migrate(postgres).await.context("creating the tables")?;
        // Setup, not request work: no spans.
        let mut conn = db.acquire().await?;
        for (i, name) in (1..=20).zip(NAMES.iter().cycle()) {
            let interest = INTERESTS[i % INTERESTS.len()];
            let q = sqlx::query(INSERT_USER).bind(i.to_string()).bind(format!("{name} #{i}")).bind(interest);
            q.execute(&mut **conn).await?;
        }
        drop(conn);
        tracing::info!(db.system.name = system, db.namespace = %db.namespace, "database ready");
        Ok(db)
    }

    async fn migrate(&self, postgres: bool) -> anyhow::Result<()> {
        let conversations = if postgres { CONVERSATIONS_POSTGRES } else { CONVERSATIONS_SQLITE };
        let mut conn = self.acquire().await?;
        // Several instances (or tests) may start at once: PostgreSQL's CREATE TABLE IF NOT EXISTS can race.
        if postgres {
            sqlx::query("SELECT pg_advisory_lock(7001)").execute(&mut **conn).await?;
        }
        for sql in [USERS, conversations] {
            sqlx::raw_sql(sql).execute(&mut **conn).await?;
        }
        if postgres {
            sqlx::query("SELECT pg_advisory_unlock(7001)").execute(&mut **conn).await?;
        }
        Ok(())
    }

    /// `db.system.name`: `postgresql` or `sqlite`.
    pub(crate) fn system(&self) -> &'static str {
        self.system
    }

    async fn acquire(&self) -> Result<InUse<PoolConnection<Any>>, sqlx::Error> {
        self.pool.acquire().await
    }

    /// Runs `query` inside a CLIENT span that describes it and records its duration (see the module docs). The
    /// duration includes waiting for a connection, as the span does: a query the pool cannot serve is slow to
    /// its caller. A query dropped before it finished (its caller went away) is not recorded.
    pub(crate) async fn traced<T>(
        &self,
        kind: Query,
        query: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, sqlx::Error> {
        let (operation, collection, text) = (kind.operation(), kind.collection(), kind.text());
        let span = tracing::info_span!(
            "db.query",
            otel.name = format!("{operation} {collection}"),
            otel.kind = "client",
            db.system.name = self.system,
            db.namespace = %self.namespace,
            db.operation.name = operation,
            db.collection.name = collection,
            db.query.text = text,
            server.address = tracing::field::Empty,
            server.port = tracing::field::Empty,
            error.type = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        if let Some((host, port)) = &self.server {
            span.record("server.address", host.as_str());
            span.record("server.port", *port);
        }
        let started = std::time::Instant::now();
        let result = query.instrument(span.clone()).await;
        let error = result.as_ref().err().map(error_type);
        self.metrics.record(kind, started.elapsed().as_secs_f64(), error);
        if let Err(e) = &result {
            span.record("error.type", error_type(e));
            span.record("otel.status_code", "ERROR");
            span.in_scope(|| tracing::error!(error = %e, "query failed"));
        }
        result
    }

    /// The profile of user `id`, if there is one.
    pub(crate) async fn user(&self, id: &str) -> Result<Option<Profile>, sqlx::Error> {
        let row: Option<(String, String, String)> = self
            .traced(Query::SelectUser, async {
                sqlx::query_as(SELECT_USER).bind(id.to_owned()).fetch_optional(&mut **self.acquire().await?).await
            })
            .await?;
        Ok(row.map(|(id, name, interest)| Profile { id, name, interest }))
    }

    /// Stores one chat message; returns the conversation id.
    pub(crate) async fn insert_conversation(
        &self,
        user: &str,
        message: &str,
        topic: &str,
        tokens: usize,
    ) -> Result<i64, sqlx::Error> {
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let (id,): (i64,) = self
            .traced(Query::InsertConversation, async {
                sqlx::query_as(INSERT_CONVERSATION)
                    .bind(user.to_owned())
                    .bind(message.to_owned())
                    .bind(topic.to_owned())
                    .bind(i64::try_from(tokens).unwrap_or(i64::MAX))
                    .bind(i64::try_from(now_ms.as_millis()).unwrap_or(i64::MAX))
                    .fetch_one(&mut **self.acquire().await?)
                    .await
            })
            .await?;
        Ok(id)
    }

    /// Closes the pool (waits for connections in use to come back).
    pub(crate) async fn close(&self) {
        self.pool.adapter().pool().close().await;
    }
}

/// `error.type` of a failed query: the sqlx error kind (low cardinality, one of [`ERROR_TYPES`]).
fn error_type(e: &sqlx::Error) -> &'static str {
    match e {
        sqlx::Error::PoolTimedOut => "pool_timeout",
        sqlx::Error::PoolClosed => "pool_closed",
        sqlx::Error::Io(_) => "io",
        sqlx::Error::Database(_) => "database",
        sqlx::Error::RowNotFound => "row_not_found",
        sqlx::Error::Protocol(_) => "protocol",
        _ => "sqlx",
    }
}
