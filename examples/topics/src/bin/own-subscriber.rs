//! Your own `tracing` subscriber: `otelwright::build` makes the pipeline without installing anything,
//! `Telemetry::layers` gives its layers (stdout lines, spans to traces, events to logs), and you add yours, here a
//! plain-text file writer for WARN and above. `install_global_providers` then makes the pipeline's tracer and meter
//! providers and its propagator the global ones, as `init` would.
//!
//! `cargo run -p otelwright-examples --bin own-subscriber` (the file: `own-subscriber.log` in the temp directory)

use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut telemetry = otelwright::build(otelwright::Config::from_env().service_name("own-subscriber"))?;
    let path = std::env::temp_dir().join("own-subscriber.log");
    let file = std::fs::File::create(&path)?;
    let file_layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .with_filter(tracing_subscriber::filter::LevelFilter::WARN);
    tracing_subscriber::registry().with(telemetry.layers()).with(file_layer).init();
    telemetry.install_global_providers();

    let span = tracing::info_span!("nightly import");
    span.in_scope(|| {
        tracing::info!(rows = 1200, "imported");
        tracing::warn!(skipped = 3, "rows without an id"); // also in the file
    });
    drop(span);
    println!("warnings written to {}", path.display());
    telemetry.shutdown().await;
    Ok(())
}
