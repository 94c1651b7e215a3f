//! `cargo run -p health-agent`: the API on `HTTP_ADDR` (default `127.0.0.1:8000`), calling the recommender at
//! `RECOMMENDER_URL` (start it with `cargo run -p recommender`), exporting over OTLP as the standard `OTEL_*`
//! variables say, with JSON log lines on stdout when stdout is not a terminal. PostgreSQL with `DATABASE_URL`,
//! Redis with `REDIS_URL`. Ctrl-C or SIGTERM stops it gracefully and flushes telemetry. The service itself is
//! `otelwright_demo::health_agent`, shared with `otelwright demo` and the end-to-end tests; this file is the wiring.

use otelwright_demo::health_agent;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = health_agent::HealthAgentConfig::from_env()?;
    // `metrics_endpoints`: the request percentiles of /api/v1/metrics and the Prometheus /metrics.
    let otel = otelwright::Config::from_env().service_name("health-agent").service_version(env!("CARGO_PKG_VERSION"));
    let telemetry = otelwright::init(otel.metrics_endpoints(true))?;
    let agent = health_agent::run(config, &telemetry).await?;
    stopped().await;
    tracing::info!("shutting down");
    agent.shutdown().await;
    let report = telemetry.shutdown().await;
    eprintln!("health-agent stopped; telemetry flushed: {}", report.is_clean());
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix (what `docker stop` sends).
async fn stopped() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler installs");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
