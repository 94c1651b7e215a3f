//! The recommender service: a tonic gRPC service (`recommender.v1.Recommender/Recommend`, see
//! `proto/recommender.proto`) that health-agent calls once per chat message. The proto is compiled by protox in
//! this crate's `build.rs`, so building needs no system `protoc`. The `recommender` example is its binary.
//!
//! Telemetry: [`HttpServerLayer`] makes every call a SERVER span named after the RPC, with the RPC conventions
//! (status from the trailers) and `rpc.server.call.duration`; the handler's `rank` span and its log lines are
//! children of it. The library takes the [`otelwright::Telemetry`] to use, so a binary passes what
//! `otelwright::init` returned and a host running several services in one process passes each its own
//! `otelwright::build` pipeline ([`DispatchLayer`]).
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! let telemetry = otelwright::build(otelwright::Config::from_env().service_name("recommender"))?;
//! let running = otelwright_demo::recommender::serve("127.0.0.1:0".parse()?, &telemetry).await?;
//! println!("serving on {}", running.addr());
//! running.shutdown().await;
//! telemetry.shutdown().await;
//! # Ok(()) }
//! ```

/// The generated messages, client and server of `recommender.v1`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod pb {
    tonic::include_proto!("recommender.v1");
}

use std::net::SocketAddr;
use std::time::Duration;

use otelwright::http::{DispatchLayer, HttpServerLayer};
use pb::recommender_server::{Recommender, RecommenderServer};
use pb::{RecommendRequest, RecommendResponse, Suggestion};
use tonic::{Request, Response, Status};

/// The default port, as docker-compose.yml expects it.
pub const DEFAULT_PORT: u16 = 50051;

/// Topic whose ranking scans the whole catalogue (the demo's slow requests).
pub const SLOW_TOPIC: &str = "research";
/// Topic whose ranking model is down (the demo's failing requests).
pub const FAILING_TOPIC: &str = "chaos";

const CATALOGUE: [(&str, [&str; 4]); 4] = [
    (
        "sleep",
        ["A 10-minute wind-down routine", "Why screens keep you awake", "Naps that help", "Caffeine's half-life"],
    ),
    (
        "fitness",
        ["Three 20-minute strength sessions", "8,000 steps a day", "Stretches for desk workers", "Zone 2 cardio"],
    ),
    ("nutrition", ["Protein at breakfast", "Fibre, simply", "Hydration myths", "Cooking once for three days"]),
    ("stress", ["Box breathing", "A walk without a phone", "Journaling in five lines", "When to ask for help"]),
];

/// The service: ranks the catalogue for a user and topic.
#[derive(Debug, Default)]
pub struct Recommendations;

#[tonic::async_trait]
impl Recommender for Recommendations {
    async fn recommend(&self, request: Request<RecommendRequest>) -> Result<Response<RecommendResponse>, Status> {
        let r = request.into_inner();
        let limit = if r.limit == 0 { 3 } else { r.limit.min(10) as usize };
        let suggestions = rank(&r.user_id, &r.topic, limit).await?;
        tracing::info!(topic = %r.topic, returned = suggestions.len(), "recommendations ranked");
        Ok(Response::new(RecommendResponse { suggestions }))
    }
}

/// Scores the candidates of `topic` for `user` (a stable hash stands in for a model).
#[tracing::instrument(skip(user), fields(candidates = tracing::field::Empty))]
async fn rank(user: &str, topic: &str, limit: usize) -> Result<Vec<Suggestion>, Status> {
    let candidates: Vec<&str> = match topic {
        "" => {
            tracing::warn!("empty topic");
            return Err(Status::invalid_argument("topic must not be empty"));
        }
        FAILING_TOPIC => {
            tracing::error!(topic, "ranking model unavailable");
            return Err(Status::unavailable("the ranking model is unavailable"));
        }
        SLOW_TOPIC => {
            // The whole catalogue, the slow way.
            tokio::time::sleep(Duration::from_millis(250)).await;
            CATALOGUE.iter().flat_map(|(_, titles)| titles.iter().copied()).collect()
        }
        _ => match CATALOGUE.iter().find(|(t, _)| *t == topic) {
            Some((_, titles)) => titles.to_vec(),
            None => CATALOGUE.iter().map(|(_, titles)| titles[0]).collect(),
        },
    };
    tracing::Span::current().record("candidates", candidates.len());
    let mut scored: Vec<Suggestion> =
        candidates.into_iter().map(|t| Suggestion { title: t.to_owned(), score: score(user, t) }).collect();
    scored.sort_by(|a, b| b.score.total_cmp(&a.score));
    scored.truncate(limit);
    Ok(scored)
}

/// A stable relevance in [0, 1) from FNV-1a over user and title.
fn score(user: &str, title: &str) -> f64 {
    let hash = user
        .bytes()
        .chain([0])
        .chain(title.bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (hash >> 11) as f64 / (1_u64 << 53) as f64
}

/// A running recommender: its address and a graceful stop.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Running {
    /// The bound address (the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets calls in flight finish (at most 5 s), and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// Binds `addr` (port 0 picks one) and serves the recommender there with `telemetry`'s providers, until
/// [`Running::shutdown`].
pub async fn serve(addr: SocketAddr, telemetry: &otelwright::Telemetry) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let mut layer = HttpServerLayer::builder().propagator(otelwright::propagator(&otelwright::Config::from_env()));
    if let Some(provider) = telemetry.tracer_provider() {
        layer = layer.tracer_provider(provider);
    }
    // Without a meter provider the pipeline records no metrics: neither does the layer.
    layer = match telemetry.meter_provider() {
        Some(provider) => layer.meter_provider(provider),
        None => layer.metrics(false),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tonic::transport::Server::builder()
        .layer(DispatchLayer::new(telemetry.dispatch().clone()))
        .layer(layer.build())
        .add_service(RecommenderServer::new(Recommendations))
        .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener), async {
            let _ = stopped.await;
        });
    let task = tokio::spawn(server);
    tracing::dispatcher::with_default(telemetry.dispatch(), || tracing::info!(%addr, "recommender listening"));
    Ok(Running { addr, stop, task })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ranks_by_topic_and_fails_on_purpose() {
        let top = rank("u-1", "sleep", 2).await.unwrap();
        assert_eq!(top.len(), 2);
        assert!(top[0].score >= top[1].score);
        assert_eq!(rank("u-1", "unknown", 10).await.unwrap().len(), CATALOGUE.len());
        assert_eq!(rank("u-1", FAILING_TOPIC, 3).await.unwrap_err().code(), tonic::Code::Unavailable);
        assert_eq!(rank("u-1", "", 3).await.unwrap_err().code(), tonic::Code::InvalidArgument);
        assert_eq!(score("a", "b"), score("a", "b"));
    }
}
