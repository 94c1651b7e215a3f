//! The health-agent service: an axum API with every otelwright signal on.
//!
//! | Route | What it does |
//! |---|---|
//! | `POST /api/v1/chat` | `{"user_id":"7","message":"...","topic":"sleep"}`: validates (422 with the reason), reads the profile through the cache, stores the message, asks `recommender` over gRPC (502 if that fails) |
//! | `GET /api/v1/users/{id}` | the profile, through the cache (404 for an unknown user) |
//! | `GET /api/v1/recommendations/{id}` | suggestions on the user's interest |
//! | `/health`, `/health/live`, `/health/ready`, `/api/v1/metrics`, `/metrics` | otelwright-health |
//!
//! Signals: SERVER spans and `http.server.*` metrics ([`otelwright::http::HttpServerLayer`]); a CLIENT span per
//! SQL query with the `db.*` attributes; cache spans; a gRPC CLIENT span per recommender call whose context
//! reaches the recommender ([`otelwright::http::HttpClientLayer`]); pool, cache and resource meters
//! (otelwright-meters); `#[otelwright::measured]` on the chat's steps; log records that carry the trace id.
//!
//! Storage: PostgreSQL when `DATABASE_URL` is set, else an SQLite file in the data directory; Redis when
//! `REDIS_URL` is set, else an in-process moka cache.
//!
//! [`run`] takes the [`otelwright::Telemetry`] to use: the binary passes what `otelwright::init` returned;
//! `otelwright demo` and the tests, which run recommender in the same process, pass a pipeline of its own
//! (`otelwright::build`), and every request is handled with that pipeline's subscriber
//! ([`DispatchLayer`]). The `health-agent` example is its binary.

mod api;
mod cache;
mod db;
mod health;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::recommender::pb::recommender_client::RecommenderClient;
use anyhow::Context as _;
use otelwright::http::{DispatchLayer, HttpClientLayer, HttpServerLayer};
use otelwright_meters::{Meters, ResourceConfig};
use tracing::instrument::WithSubscriber as _;

pub use db::Profile;
/// The type of [`HealthAgentConfig::readers`], re-exported for hosts that build the config.
pub use otelwright_health::HealthReaders;

/// The default HTTP port, as docker-compose.yml expects it.
pub const DEFAULT_PORT: u16 = 8000;

/// Where health-agent listens and what it talks to.
#[derive(Clone, Debug)]
pub struct HealthAgentConfig {
    /// Address to bind; port 0 picks a free one (`HTTP_ADDR`, default `127.0.0.1:8000`).
    pub addr: SocketAddr,
    /// PostgreSQL URL (`DATABASE_URL`); `None`: SQLite file `health-agent.db` in `data_dir`.
    pub database_url: Option<String>,
    /// Directory of the SQLite file and of the disk-space check (`HEALTH_AGENT_DATA_DIR`, default `.`).
    pub data_dir: PathBuf,
    /// Redis URL (`REDIS_URL`); `None`: an in-process cache.
    pub redis_url: Option<String>,
    /// The recommender (`RECOMMENDER_URL`, default `http://127.0.0.1:50051`).
    pub recommender_url: String,
    /// How often process and system resources are sampled (default 10 s).
    pub resource_refresh: Duration,
    /// The metric readers behind `/api/v1/metrics`'s request percentiles and `/metrics` (default: a 60 s window
    /// collected every 5 s). They must be on the telemetry's meter provider: build the telemetry from
    /// [`HealthAgentConfig::telemetry_config`].
    pub readers: HealthReaders,
    /// Log `slow request` above this (default: the layer's, 3 s).
    pub slow_request_threshold: Option<Duration>,
}

impl Default for HealthAgentConfig {
    fn default() -> Self {
        HealthAgentConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            database_url: None,
            data_dir: PathBuf::from("."),
            redis_url: None,
            recommender_url: format!("http://127.0.0.1:{}", crate::recommender::DEFAULT_PORT),
            resource_refresh: Duration::from_secs(10),
            readers: HealthReaders::new(),
            slow_request_threshold: None,
        }
    }
}

impl HealthAgentConfig {
    /// The defaults, overridden by `HTTP_ADDR`, `DATABASE_URL`, `REDIS_URL`, `RECOMMENDER_URL` and
    /// `HEALTH_AGENT_DATA_DIR` (empty values count as unset).
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut config = HealthAgentConfig::default();
        if let Some(addr) = var("HTTP_ADDR") {
            config.addr = addr.parse().with_context(|| format!("HTTP_ADDR={addr:?} is not host:port"))?;
        }
        config.database_url = var("DATABASE_URL");
        config.redis_url = var("REDIS_URL");
        if let Some(url) = var("RECOMMENDER_URL") {
            config.recommender_url = url;
        }
        if let Some(dir) = var("HEALTH_AGENT_DATA_DIR") {
            config.data_dir = dir.into();
        }
        Ok(config)
    }

    /// `base` with what health-agent needs on the meter provider: [`HealthAgentConfig::readers`].
    ///
    /// ```no_run
    /// # async fn run() -> anyhow::Result<()> {
    /// use otelwright_demo::health_agent;
    /// let config = health_agent::HealthAgentConfig::from_env()?;
    /// let telemetry = otelwright::init(config.telemetry_config(otelwright::Config::from_env()))?;
    /// let agent = health_agent::run(config, &telemetry).await?;
    /// # Ok(()) }
    /// ```
    pub fn telemetry_config(&self, base: otelwright::Config) -> otelwright::Config {
        let readers = self.readers.clone();
        base.meter_provider_hook(move |builder| readers.install(builder))
    }
}

/// A running health-agent.
pub struct RunningAgent {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    db: db::Db,
    meters: Meters,
    dispatch: tracing::Dispatch,
}

impl std::fmt::Debug for RunningAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningAgent").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl RunningAgent {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The resource, pool and cache meters (what `/api/v1/metrics` reads).
    pub fn meters(&self) -> &Meters {
        &self.meters
    }

    /// Stops accepting, lets requests in flight finish (at most 10 s), closes the pool. Flushing telemetry is
    /// the caller's: it owns the [`otelwright::Telemetry`].
    pub async fn shutdown(self) {
        let RunningAgent { stop, mut task, db, dispatch, .. } = self;
        let _ = stop.send(());
        if tokio::time::timeout(Duration::from_secs(10), &mut task).await.is_err() {
            task.abort();
        }
        db.close().await;
        tracing::dispatcher::with_default(&dispatch, || tracing::info!("health-agent stopped"));
    }
}

/// Connects the database and cache, binds `config.addr` and serves the API with `telemetry`'s providers until
/// [`RunningAgent::shutdown`].
pub async fn run(config: HealthAgentConfig, telemetry: &otelwright::Telemetry) -> anyhow::Result<RunningAgent> {
    // Start-up logs and spans go to this service's pipeline, whatever the global subscriber is.
    start(config, telemetry).with_subscriber(telemetry.dispatch().clone()).await
}

async fn start(config: HealthAgentConfig, telemetry: &otelwright::Telemetry) -> anyhow::Result<RunningAgent> {
    let meters = Meters::new()
        .with_resources(ResourceConfig::default().refresh_interval(config.resource_refresh))
        .context("starting the resource sampler")?;
    meters.register_instruments(&telemetry.meter("otelwright-meters"));
    let database_url = config
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", config.data_dir.join("health-agent.db").display()));
    let db = db::Db::connect(&database_url, &meters.pools).await?;
    let profiles = cache::Profiles::connect(config.redis_url.as_deref(), &meters.caches).await?;
    let health = health::router(&meters, &config.readers, &profiles, &config.data_dir);

    // OTEL_PROPAGATORS (default tracecontext,baggage); the global propagator may not be set in-process.
    let otel_config = otelwright::Config::from_env();
    let channel = tonic::transport::Endpoint::from_shared(config.recommender_url.clone())
        .with_context(|| format!("RECOMMENDER_URL {:?}", config.recommender_url))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .connect_lazy();
    let mut client_layer =
        HttpClientLayer::builder().target(&config.recommender_url).propagator(otelwright::propagator(&otel_config));
    let mut server_layer =
        HttpServerLayer::builder().propagator(otelwright::propagator(&otel_config)).exclude_paths(health::UNTRACED);
    if let Some(provider) = telemetry.tracer_provider() {
        client_layer = client_layer.tracer_provider(provider);
        server_layer = server_layer.tracer_provider(provider);
    }
    // Without a meter provider the pipeline records no metrics: neither do the layers.
    match telemetry.meter_provider() {
        Some(provider) => {
            client_layer = client_layer.meter_provider(provider);
            server_layer = server_layer.meter_provider(provider);
        }
        None => {
            client_layer = client_layer.metrics(false);
            server_layer = server_layer.metrics(false);
        }
    }
    if let Some(threshold) = config.slow_request_threshold {
        server_layer = server_layer.slow_request_threshold(Some(threshold));
    }
    let recommender = RecommenderClient::new(tower_layer::Layer::layer(&client_layer.build(), channel));

    let backends = (db.system(), profiles.backend());
    let app = Arc::new(api::App { db: db.clone(), profiles, recommender });
    let router = api::routes(app)
        .merge(health)
        .layer(server_layer.build())
        .layer(DispatchLayer::new(telemetry.dispatch().clone()));

    let listener =
        tokio::net::TcpListener::bind(config.addr).await.with_context(|| format!("binding {}", config.addr))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serve = axum::serve(listener, router).with_graceful_shutdown(async {
        let _ = stopped.await;
    });
    let task = tokio::spawn(serve.into_future());
    tracing::info!(%addr, database = backends.0, cache = backends.1, recommender = %config.recommender_url, "health-agent listening");
    Ok(RunningAgent { addr, stop, task, db, meters, dispatch: telemetry.dispatch().clone() })
}
