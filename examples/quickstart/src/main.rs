//! The smallest useful service with otelwright: one `init` call, the server layer (a span and the HTTP metrics per
//! request, `X-Request-ID`, `X-Response-Time`), `tracing` events, one OpenTelemetry counter, and a shutdown that
//! flushes everything. Configure it with the standard variables, e.g.
//! `OTEL_SERVICE_NAME=hello OTEL_EXPORTER_OTLP_PROTOCOL=grpc cargo run -p quickstart`, then
//! `curl localhost:3000/hello/ada`.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;

static GREETINGS: LazyLock<Counter<u64>> = LazyLock::new(|| {
    opentelemetry::global::meter("quickstart").u64_counter("quickstart.greetings").with_unit("{greeting}").build()
});

async fn hello(Path(name): Path<String>) -> String {
    GREETINGS.add(1, &[KeyValue::new("greeting.language", "en")]);
    tracing::info!(name_len = name.len(), "greeting"); // carries trace_id, span_id and request_id
    format!("Hello, {name}!\n")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = otelwright::init(otelwright::Config::from_env().service_version(env!("CARGO_PKG_VERSION")))?;

    let app = Router::new().route("/hello/{name}", get(hello)).layer(otelwright::http::HttpServerLayer::new());
    let addr = std::env::var("QUICKSTART_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(%addr, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;

    let report = telemetry.shutdown().await; // flushes traces, logs and metrics within 5 s
    tracing::info!(clean = report.is_clean(), "stopped");
    Ok(())
}
