//! The service the benches measure: an axum app with a hello-world route and a "realistic" one, the same code in
//! every mode; only the layer and the meters differ.
//!
//! - `GET /hello`: a log line and a fixed string.
//! - `GET /orders/{id}`: ~1 ms of async work (a timer) inside a child span `load_order`, an order read through a
//!   moka cache (1000 ids, so mostly hits), a log line, and the order as a ~0.5 kB JSON body.
//!
//! Every service owns a SQLite pool and the cache; the `metrics` and `everything` modes meter them (with
//! otelwright-meters' process/system resources) and add the HTTP server layer's metrics; the `traces` and
//! `everything` modes add its spans. `stock` adds the contrib tower layer instead (spans and HTTP metrics; no
//! pool, cache or resource meters: a user without otelwright has none). Without a subscriber (`bare`), the span
//! and log macros cost next to nothing.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use otelwright_meters::Meters;
use otelwright_meters::cache::moka::MeteredCache;
use otelwright_meters::pool::sqlx::SqlxPool;
use serde::Serialize;
use tracing::Instrument;

use super::service::{Mode, Pipeline};
use super::stock::Stock;

/// One line of an order.
#[derive(Clone, Debug, Serialize)]
struct Line {
    sku: String,
    quantity: u32,
    unit_price_cents: u64,
}

/// The realistic handler's body.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Order {
    id: u64,
    customer: String,
    status: &'static str,
    currency: &'static str,
    lines: Vec<Line>,
    total_cents: u64,
}

impl Order {
    fn new(id: u64) -> Order {
        let lines: Vec<Line> = (0..5)
            .map(|i| Line {
                sku: format!("SKU-{:05}", (id * 31 + i) % 100_000),
                quantity: 1 + (id + i) as u32 % 4,
                unit_price_cents: 199 + (id * 17 + i * 101) % 9_800,
            })
            .collect();
        let total_cents = lines.iter().map(|l| u64::from(l.quantity) * l.unit_price_cents).sum();
        Order {
            id,
            customer: format!("customer-{}", id % 250),
            status: if id.is_multiple_of(7) { "shipped" } else { "confirmed" },
            currency: "EUR",
            lines,
            total_cents,
        }
    }
}

/// The orders cache: metered in the metric modes, plain otherwise.
#[derive(Clone)]
enum OrderCache {
    Plain(moka::sync::Cache<u64, Arc<Order>>),
    Metered(MeteredCache<u64, Arc<Order>>),
}

impl OrderCache {
    fn get_with(&self, id: u64, init: impl FnOnce() -> Arc<Order>) -> Arc<Order> {
        match self {
            OrderCache::Plain(c) => c.get_with(id, init),
            OrderCache::Metered(c) => c.get_with(id, init),
        }
    }
}

/// The app and what must live as long as it.
pub(crate) struct App {
    /// The routes, with the mode's layer.
    pub(crate) router: Router,
    /// The meters and the pool.
    pub(crate) keep: (Option<Meters>, sqlx::SqlitePool),
}

async fn hello() -> &'static str {
    tracing::info!("hello served");
    "Hello, world!"
}

async fn load(cache: &OrderCache, id: u64) -> Arc<Order> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    cache.get_with(id, || Arc::new(Order::new(id)))
}

async fn order(State(cache): State<OrderCache>, Path(id): Path<u64>) -> Json<Arc<Order>> {
    let order = load(&cache, id).instrument(tracing::info_span!("load_order", order.id = id)).await;
    tracing::info!(order.id = id, lines = order.lines.len(), "order served");
    Json(order)
}

/// Builds the app of `mode` on the installed `pipeline`.
pub(crate) async fn build(mode: Mode, pipeline: &Pipeline) -> anyhow::Result<App> {
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(4).connect("sqlite::memory:").await?;
    let builder = || moka::sync::Cache::builder().max_capacity(10_000);
    let (cache, meters) = match pipeline {
        Pipeline::Otelwright(t) if mode.metrics() => {
            // Resources sampled at the pipeline's metric interval, as a service wires them.
            let meters = t.meters()?;
            meters.pools.add("orders-db", SqlxPool::new(pool.clone()));
            let cache = MeteredCache::build(&meters.caches, "orders", builder());
            (OrderCache::Metered(cache), Some(meters))
        }
        _ => (OrderCache::Plain(builder().build()), None),
    };
    let routes = Router::new().route("/hello", get(hello)).route("/orders/{id}", get(order)).with_state(cache);
    let router = match pipeline {
        Pipeline::None => routes,
        Pipeline::Stock(_) => routes.layer(Stock::http_layer()),
        // The layer a service gets from its Telemetry (providers, propagator and settings bound).
        Pipeline::Otelwright(t) => {
            routes.layer(t.server_layer_builder().traces(mode.traces()).metrics(mode.metrics()).build())
        }
    };
    Ok(App { router, keep: (meters, pool) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_about_half_a_kilobyte_of_json() {
        let json = serde_json::to_string(&Order::new(42)).unwrap();
        assert!((300..800).contains(&json.len()), "{} bytes: {json}", json.len());
        assert_eq!(serde_json::to_string(&Order::new(42)).unwrap(), json, "deterministic");
    }
}
