//! `cargo run -p recommender`: the recommender gRPC service on `GRPC_ADDR` (default `127.0.0.1:50051`), exporting
//! over OTLP as configured by the standard `OTEL_*` variables. Stops on Ctrl-C or SIGTERM and flushes telemetry.
//! The service itself is `otelwright_demo::recommender`, shared with `otelwright demo` and the end-to-end tests.

use std::net::SocketAddr;

use otelwright_demo::recommender;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = otelwright::init(
        otelwright::Config::from_env().service_name("recommender").service_version(env!("CARGO_PKG_VERSION")),
    )?;
    let addr: SocketAddr =
        std::env::var("GRPC_ADDR").unwrap_or_else(|_| format!("127.0.0.1:{}", recommender::DEFAULT_PORT)).parse()?;
    let running = recommender::serve(addr, &telemetry).await?;
    stopped().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    let report = telemetry.shutdown().await;
    eprintln!("recommender stopped; telemetry flushed: {}", report.is_clean());
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
