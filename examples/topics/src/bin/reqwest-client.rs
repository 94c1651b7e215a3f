//! A reqwest client with `Telemetry::reqwest_middleware`: a CLIENT span and `http.client.request.duration` per
//! call, and the trace context in the outgoing `traceparent`, so the server's SERVER span joins the same trace.
//!
//! `cargo run -p otelwright-examples --bin reqwest-client`

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = otelwright::init(otelwright::Config::from_env().service_name("reqwest-client"))?;
    let app = Router::new().route("/quote", get(|| async { "stay curious" })).layer(telemetry.server_layer());
    let addr = otelwright_examples::serve(app).await?;

    let client =
        reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).with(telemetry.reqwest_middleware()).build();
    let span = tracing::info_span!("fetch quotes");
    for _ in 0..3 {
        let request = client.get(format!("http://{addr}/quote")).send();
        let response = tracing::Instrument::instrument(request, span.clone()).await?;
        println!("GET /quote -> {} {:?}", response.status(), response.text().await?);
    }
    drop(span);
    telemetry.shutdown().await;
    Ok(())
}
