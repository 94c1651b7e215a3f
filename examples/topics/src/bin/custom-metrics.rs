//! Metrics of your own through the OpenTelemetry API, on the meter `Telemetry::meter` gives: a counter, a
//! histogram with explicit buckets, an up-down counter, and an observable gauge read at each export. Names, units
//! and attributes follow the semantic conventions' rules: dotted lowercase names, UCUM units (`s`, `By`,
//! `{order}`), and low-cardinality attributes.
//!
//! `cargo run -p otelwright-examples --bin custom-metrics`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::KeyValue;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = otelwright::init(otelwright::Config::from_env().service_name("custom-metrics"))?;
    let meter = telemetry.meter("shop");

    let orders = meter.u64_counter("shop.orders").with_unit("{order}").with_description("Orders placed.").build();
    let basket = meter
        .f64_histogram("shop.basket.value")
        .with_unit("EUR")
        .with_boundaries(vec![5.0, 10.0, 25.0, 50.0, 100.0, 250.0])
        .build();
    let carts = meter.i64_up_down_counter("shop.carts.open").with_unit("{cart}").build();
    let stock = Arc::new(AtomicU64::new(120));
    let observed = stock.clone();
    let _gauge = meter
        .u64_observable_gauge("shop.stock.level")
        .with_unit("{item}")
        .with_callback(move |o| {
            o.observe(observed.load(Ordering::Relaxed), &[KeyValue::new("shop.warehouse", "north")])
        })
        .build();

    for (value, channel) in [(12.5, "web"), (80.0, "app"), (230.0, "web")] {
        carts.add(1, &[]);
        let attributes = [KeyValue::new("shop.channel", channel)];
        orders.add(1, &attributes);
        basket.record(value, &attributes);
        stock.fetch_sub(3, Ordering::Relaxed);
        carts.add(-1, &[]);
    }
    println!("3 orders recorded; stock now {}", stock.load(Ordering::Relaxed));
    telemetry.shutdown().await; // the last export carries them all
    Ok(())
}
