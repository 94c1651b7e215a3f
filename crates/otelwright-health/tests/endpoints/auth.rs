//! The bearer token: `/api/v1/metrics` and `/metrics` answer 401 (plain, no details) without the right token;
//! `/health/ready` keeps its status code for everyone and shows the per-check details only with the token;
//! `/health/live` is always open. Without `token(..)` everything is open (`OTELWRIGHT_METRICS_TOKEN` is read by
//! `otelwright::Config` and passed by `Telemetry::health`, tested in the otelwright crate).

use crate::common;

use common::{Server, serve};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use otelwright_health::{Health, HealthBuilder, HealthReaders};

async fn start(builder: HealthBuilder) -> (Server, SdkMeterProvider) {
    let readers = HealthReaders::new();
    let provider = readers.install(SdkMeterProvider::builder()).build();
    let health = builder.readers(&readers).check("db", || async { Err::<(), _>("connection refused") }).build();
    (serve(health.router()).await, provider)
}

/// The guarded paths (`/metrics` exists with the `prometheus` feature).
fn guarded() -> &'static [&'static str] {
    if cfg!(feature = "prometheus") { &["/api/v1/metrics", "/metrics"] } else { &["/api/v1/metrics"] }
}

async fn assert_guarded(server: &Server, token: &str) {
    for &path in guarded() {
        for wrong in
            [None, Some("Bearer nope".to_owned()), Some(format!("Basic {token}")), Some(format!("Bearer {token}x"))]
        {
            let a = server.request(reqwest::Method::GET, path, wrong.clone()).await;
            assert_eq!(a.status, 401, "{path} with {wrong:?}");
            assert_eq!((a.content_type.as_str(), a.body.as_str()), ("text/plain; charset=utf-8", "unauthorized\n"));
        }
        assert_eq!(server.get_with_token(path, token).await.status, 200, "{path} with the token");
    }
    // Readiness: same status either way, details only with the token.
    let bare = server.get("/health/ready").await;
    assert_eq!((bare.status, bare.json()), (503, serde_json::json!({"status": "not_ready"})));
    let wrong = server.get_with_token("/health/ready", "nope").await;
    assert_eq!((wrong.status, wrong.json()), (503, serde_json::json!({"status": "not_ready"})));
    let detailed = server.get_with_token("/health/ready", token).await;
    assert_eq!(detailed.status, 503);
    assert_eq!(detailed.json()["checks"]["db"]["error"], "connection refused");
    assert_eq!(server.get("/health/live").await.status, 200);
}

#[tokio::test]
async fn the_token_guards_metrics_and_ready_details() {
    let (server, _provider) = start(Health::builder().token("s3cret")).await;
    assert_guarded(&server, "s3cret").await;
}

#[tokio::test]
async fn without_a_token_everything_is_open() {
    let (server, _provider) = start(Health::builder()).await;
    for &path in guarded() {
        assert_eq!(server.get(path).await.status, 200, "{path}");
    }
    assert_eq!(server.get("/health/ready").await.json()["checks"]["db"]["status"], "error");
}

#[tokio::test]
async fn without_token_undoes_a_token() {
    let (server, _provider) = start(Health::builder().token("code").without_token()).await;
    assert_eq!(server.get("/api/v1/metrics").await.status, 200);
}
