//! tonic client and server: the server layer recognises gRPC by its content type and records a SERVER span named
//! `{package.Service}/{Method}` and `rpc.server.call.duration`; the client layer on the channel records the CLIENT
//! span and `rpc.client.call.duration` and injects the trace context. (The service is the demo's
//! `recommender.v1`, compiled from its proto without a system `protoc`.)
//!
//! `cargo run -p otelwright-examples --bin tonic`

use otelwright_demo::recommender::pb;
use pb::recommender_client::RecommenderClient;
use pb::recommender_server::{Recommender, RecommenderServer};
use tonic::{Request, Response, Status};

struct Echo;

#[tonic::async_trait]
impl Recommender for Echo {
    async fn recommend(
        &self,
        request: Request<pb::RecommendRequest>,
    ) -> Result<Response<pb::RecommendResponse>, Status> {
        let request = request.into_inner();
        if request.topic.is_empty() {
            return Err(Status::invalid_argument("topic is empty")); // an error for the client span only
        }
        tracing::info!(topic = %request.topic, "recommending");
        let suggestion = pb::Suggestion { title: format!("read about {}", request.topic), score: 1.0 };
        Ok(Response::new(pb::RecommendResponse { suggestions: vec![suggestion] }))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = otelwright::init(otelwright::Config::from_env().service_name("tonic-example"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = tonic::transport::Server::builder()
        .layer(telemetry.server_layer())
        .add_service(RecommenderServer::new(Echo))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    tokio::spawn(server);

    let channel = tonic::transport::Endpoint::from_shared(url.clone())?.connect_lazy();
    let layer = telemetry.client_layer_builder().target(&url).build();
    let mut client = RecommenderClient::new(tower_layer::Layer::layer(&layer, channel));
    for topic in ["sleep", ""] {
        let request = pb::RecommendRequest { user_id: "7".into(), topic: topic.into(), limit: 1 };
        match client.recommend(request).await {
            Ok(r) => println!("Recommend({topic:?}) -> {:?}", r.into_inner().suggestions[0].title),
            Err(status) => println!("Recommend({topic:?}) -> {:?}", status.code()),
        }
    }
    telemetry.shutdown().await;
    Ok(())
}
