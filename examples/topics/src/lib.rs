//! What the one-topic examples share: each binary in `src/bin/` serves on an ephemeral port, drives a few requests
//! at itself, prints what it did and shuts its telemetry down, so `cargo run -p otelwright-examples --bin <name>`
//! shows the topic end to end against whatever collector the `OTEL_*` variables name (or none: the exports then
//! fail quietly and the shutdown still returns in time). `tests/examples.rs` runs each against a receiver.

use std::net::SocketAddr;

/// Serves `app` on 127.0.0.1 (a free port) in the background and returns its address.
pub async fn serve(app: axum::Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}
