//! Shared set-up for the end-to-end tests: a receiver, otelwright installed globally and exporting to it over
//! gRPC, and helpers to serve an axum app on an ephemeral port.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use otelwright::Telemetry;
use otelwright_receiver::{ReceivedMetric, ReceivedSpan, Receiver};
pub use otelwright_test_support::WAIT;
use otelwright_test_support::{config, fast_batches};

/// Starts the receiver and installs otelwright globally (once per test binary).
pub async fn setup(service: &str) -> (Receiver, Telemetry) {
    let receiver = Receiver::start().await.expect("receiver");
    let config = fast_batches(config(&receiver, service), Duration::from_millis(50));
    let telemetry = otelwright::init(config).expect("init");
    (receiver, telemetry)
}

/// Serves `app` (with peer addresses) on 127.0.0.1:0.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
    });
    addr
}

/// Serves A, the chain's front: `GET /a` behind the server layer calls B's `/b` through reqwest with
/// `OtelMiddleware` and answers with B's body.
pub async fn front(b: SocketAddr) -> SocketAddr {
    use axum::extract::State;
    use reqwest_middleware::ClientWithMiddleware;

    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(otelwright_http::OtelMiddleware::new())
        .build();
    serve(
        axum::Router::new()
            .route(
                "/a",
                axum::routing::get(move |State(client): State<ClientWithMiddleware>| async move {
                    client.get(format!("http://{b}/b")).send().await.unwrap().text().await.unwrap()
                }),
            )
            .with_state(client)
            .layer(otelwright_http::HttpServerLayer::new()),
    )
    .await
}

pub async fn span_named(receiver: &Receiver, name: &str) -> ReceivedSpan {
    let spans = receiver.wait_for_spans(|s| s.iter().any(|s| s.name() == name), WAIT).await.unwrap();
    spans.into_iter().find(|s| s.name() == name).unwrap()
}

/// The latest export of a metric (cumulative: it holds the totals).
pub async fn metric(receiver: &Receiver, telemetry: &Telemetry, name: &str) -> ReceivedMetric {
    let errors = telemetry.flush().await;
    assert!(errors.is_empty(), "{errors:?}");
    let metrics = receiver.wait_for_metrics(|m| m.iter().any(|m| m.name() == name), WAIT).await.unwrap();
    metrics.into_iter().rev().find(|m| m.name() == name).unwrap()
}

pub const SERVER: i32 = 2;
pub const CLIENT: i32 = 3;
pub const STATUS_ERROR: i32 = 2;
