//! The axum routes: `GET /health/live`, `GET /health/ready`, `GET /api/v1/metrics` and (feature
//! `prometheus`, when the reader is installed) `GET /metrics`. Other methods get axum's 405, other paths 404.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Map, Value, json};

use crate::Health;
use crate::check::ReadyReport;
use crate::snapshot::round2;

/// Paths of the endpoints.
pub mod paths {
    /// Liveness.
    pub const LIVE: &str = "/health/live";
    /// Readiness.
    pub const READY: &str = "/health/ready";
    /// The JSON metrics snapshot.
    pub const SNAPSHOT: &str = "/api/v1/metrics";
    /// The Prometheus exposition.
    pub const PROMETHEUS: &str = "/metrics";
}

fn json_type() -> HeaderValue {
    HeaderValue::from_static("application/json")
}

fn no_store() -> HeaderValue {
    HeaderValue::from_static("no-store")
}

pub(crate) fn router(health: Health) -> Router {
    let router = Router::new()
        .route(paths::LIVE, get(live))
        .route(paths::READY, get(ready))
        .route(paths::SNAPSHOT, get(snapshot));
    #[cfg(feature = "prometheus")]
    let router =
        if health.inner.prometheus.is_some() { router.route(paths::PROMETHEUS, get(prometheus)) } else { router };
    router.with_state(health)
}

fn respond(status: StatusCode, content_type: HeaderValue, body: Bytes) -> Response {
    (status, [(CONTENT_TYPE, content_type), (CACHE_CONTROL, no_store())], body).into_response()
}

/// 401 with a plain body and no details.
fn unauthorized() -> Response {
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8")),
        (WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")),
        (CACHE_CONTROL, no_store()),
    ];
    (StatusCode::UNAUTHORIZED, headers, "unauthorized\n").into_response()
}

async fn live() -> Response {
    respond(StatusCode::OK, json_type(), Bytes::from_static(br#"{"status":"alive"}"#))
}

async fn ready(State(health): State<Health>, headers: HeaderMap) -> Response {
    let report = health.ready_report().await;
    let status = if report.is_ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = if health.authorized(&headers) {
        let mut body = ready_body(&report);
        body["uptime_seconds"] = json!(round2(health.inner.started.elapsed().as_secs_f64()));
        body.to_string()
    } else {
        json!({ "status": ready_status(&report) }).to_string()
    };
    respond(status, json_type(), Bytes::from(body))
}

fn ready_status(report: &ReadyReport) -> &'static str {
    match (report.is_ready(), report.is_degraded()) {
        (true, false) => "ready",
        (true, true) => "degraded",
        (false, _) => "not_ready",
    }
}

/// `{"status":"ready","checks":{name:{"status":"ok","duration_ms":1.2}}}`; failing checks carry
/// `"status":"error"` and `"error"`, non-critical ones `"critical":false`. The route adds `uptime_seconds`.
pub(crate) fn ready_body(report: &ReadyReport) -> Value {
    let checks: Map<String, Value> = report
        .checks
        .iter()
        .map(|c| {
            let duration_ms = round2(c.duration.as_secs_f64() * 1000.0);
            let mut value = match &c.error {
                None => json!({ "status": "ok", "duration_ms": duration_ms }),
                Some(e) => json!({ "status": "error", "error": e, "duration_ms": duration_ms }),
            };
            if !c.critical {
                value["critical"] = json!(false);
            }
            (c.name.to_string(), value)
        })
        .collect();
    json!({ "status": ready_status(report), "checks": checks })
}

async fn snapshot(State(health): State<Health>, headers: HeaderMap) -> Response {
    if !health.authorized(&headers) {
        return unauthorized();
    }
    let inner = &health.inner;
    let body = inner
        .snapshot
        .get(|| async { Bytes::from(serde_json::to_vec(&inner.sources.snapshot()).unwrap_or_default()) })
        .await;
    respond(StatusCode::OK, json_type(), body)
}

#[cfg(feature = "prometheus")]
async fn prometheus(State(health): State<Health>, headers: HeaderMap) -> Response {
    if !health.authorized(&headers) {
        return unauthorized();
    }
    let Some(source) = health.inner.prometheus.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let rendered = health
        .inner
        .exposition
        .get(|| async move {
            match tokio::task::spawn_blocking(move || source.render()).await {
                Ok(Ok(text)) => Ok(Bytes::from(text)),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(format!("collection failed: {e}")),
            }
        })
        .await;
    match rendered {
        Ok(body) => respond(StatusCode::OK, HeaderValue::from_static(crate::prometheus::CONTENT_TYPE), body),
        Err(error) => {
            tracing::warn!(%error, "the Prometheus exposition could not be rendered");
            let plain = HeaderValue::from_static("text/plain; charset=utf-8");
            respond(StatusCode::SERVICE_UNAVAILABLE, plain, Bytes::from_static(b"metrics unavailable\n"))
        }
    }
}
